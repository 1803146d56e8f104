package io.busprobe.maps;

import io.busprobe.event.EventKind;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The operator's config that differs from what a daemon started with {@code --reset-config}
 * would run: the words the start-up line and {@code busprobe status} show, so that a setting
 * made in an earlier incident never comes back silently.
 *
 * {@snippet :
 * NonDefaults.of(maps, 8 << 20, kind -> true); // ["state on 1/10", "emit off", "watermark 64K"]
 * }
 */
public final class NonDefaults {
    private NonDefaults() {
    }

    /**
     * @param ringSize the ring of the daemon that runs the config, which the watermark's default depends on
     * @param attached whether a kind's probe attached: a fresh config has the others off, so off is their default
     */
    public static List<String> of(ControlMaps maps, long ringSize, Predicate<EventKind> attached) {
        List<String> out = new ArrayList<>();
        for (EventKind k : EventKind.values()) {
            String d = kind(maps.sampling(k), attached.test(k));
            if (d != null) {
                out.add(k.label() + " " + d);
            }
        }
        out.addAll(maps.settings().differences(ringSize));
        return out;
    }

    /** How {@code s} differs from a fresh daemon's setting of a kind, or null when it does not. */
    public static String kind(SampleSetting s, boolean attached) {
        return s.equals(SampleSetting.DEFAULT.withEnabled(attached)) ? null : s.describe();
    }
}
