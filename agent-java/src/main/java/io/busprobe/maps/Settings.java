package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.text.Units;

import java.util.Locale;

/**
 * Global tier-2 settings ({@code struct bp_settings}): the emit switch and the
 * ring wakeup policy.
 *
 * @param emit         false: no ring records at all, counters only
 * @param watermark    bytes pending before the kernel wakes the reader (policy WATERMARK)
 * @param watermarkSet the operator chose the watermark ({@code sample --watermark}); otherwise it is
 *                     derived from the ring, and each daemon derives it again for its own ring
 */
public record Settings(boolean emit, Wakeup wakeup, int watermark, boolean watermarkSet) {
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

    /** Settings with a derived watermark. */
    public Settings(boolean emit, Wakeup wakeup, int watermark) {
        this(emit, wakeup, watermark, false);
    }

    /** Defaults for a ring of {@code ringSize} bytes: emit, wake at 1/8 full. */
    public static Settings defaults(long ringSize) {
        return new Settings(true, Wakeup.WATERMARK, derivedWatermark(ringSize), false);
    }

    /** 1/8 of the ring: the kernel's wakeup comes well before the ring fills. */
    public static int derivedWatermark(long ringSize) {
        return (int) Math.max(ringSize / 8, 4096);
    }

    /** The operator's watermark: kept by every later daemon whose ring it fits. */
    public Settings withWatermark(int bytes) {
        return new Settings(emit, wakeup, bytes, true);
    }

    /** Back to the watermark derived from the ring of {@code ringSize} bytes ({@code --watermark auto}). */
    public Settings withDerivedWatermark(long ringSize) {
        return new Settings(emit, wakeup, derivedWatermark(ringSize), false);
    }

    /**
     * These settings as a daemon with a ring of {@code ringSize} bytes must run them: a derived
     * watermark derived again for this ring (one pinned by a 4K ring would wake an 8M ring's reader
     * 256 times as often), and an operator's watermark that this ring cannot reach dropped for the
     * derived one (only the poll timer would ever wake the reader).
     */
    public Settings forRing(long ringSize) {
        return watermarkSet && watermark < ringSize ? this : withDerivedWatermark(ringSize);
    }

    /**
     * What differs from {@link #defaults} for a ring of {@code ringSize} bytes, in the words
     * {@code busprobe sample} takes: {@code emit off}, {@code wakeup always}, {@code watermark 64K}.
     */
    public java.util.List<String> differences(long ringSize) {
        java.util.List<String> out = new java.util.ArrayList<>();
        if (!emit) {
            out.add("emit off");
        }
        if (wakeup != Wakeup.WATERMARK) {
            out.add("wakeup " + wakeup.label());
        }
        if (watermarkSet || watermark != derivedWatermark(ringSize)) {
            out.add("watermark " + Units.size(watermark));
        }
        return out;
    }
}
