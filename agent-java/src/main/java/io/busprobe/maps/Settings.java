package io.busprobe.maps;

import io.busprobe.bindings.Native;

import java.util.Locale;

/**
 * Global tier-2 settings ({@code struct bp_settings}): the emit switch and the
 * ring wakeup policy.
 *
 * @param emit      false: no ring records at all, counters only
 * @param watermark bytes pending before the kernel wakes the reader (policy WATERMARK)
 */
public record Settings(boolean emit, Wakeup wakeup, int watermark) {
    /** Ring wakeup policies, {@code enum bp_wakeup}. */
    public enum Wakeup {
        WATERMARK(Native.BP_WAKEUP_WATERMARK()),
        ALWAYS(Native.BP_WAKEUP_ALWAYS()),
        NEVER(Native.BP_WAKEUP_NEVER());

        private final int id;

        Wakeup(int id) {
            this.id = id;
        }

        public int id() {
            return id;
        }

        public static Wakeup ofId(int id) {
            for (Wakeup w : values()) {
                if (w.id == id) {
                    return w;
                }
            }
            return WATERMARK;
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public Settings {
        if (watermark < 0) {
            throw new IllegalArgumentException("watermark must not be negative: " + watermark);
        }
    }

    /** Defaults for a ring of {@code ringSize} bytes: emit, wake at 1/8 full. */
    public static Settings defaults(long ringSize) {
        return new Settings(true, Wakeup.WATERMARK, (int) Math.max(ringSize / 8, 4096));
    }
}
