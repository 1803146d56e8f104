package io.busprobe.maps;

/**
 * One kind's tier-2 sampling setting ({@code struct bp_sample_cfg}). Validated on
 * construction, so nothing invalid ever reaches a map.
 *
 * {@snippet :
 * SampleSetting s = SampleSetting.DEFAULT.withEvery(10).withRate(500, 50);
 * }
 *
 * @param every  emit 1 in N hits (1 = every hit)
 * @param rate   records per second, 0 = unlimited
 * @param burst  token-bucket depth in records (meaningful with a rate)
 * @param noAuto automatic degradation leaves this kind alone
 */
public record SampleSetting(boolean enabled, int every, int rate, int burst, boolean noAuto) {
    public static final int MAX_EVERY = 1_000_000;
    public static final int MAX_RATE = 10_000_000;
    public static final int MAX_BURST = 1_000_000;
    public static final SampleSetting DEFAULT = new SampleSetting(true, 1, 0, 1, false);

    public SampleSetting {
        if (every < 1 || every > MAX_EVERY) {
            throw new IllegalArgumentException("every must be between 1 and " + MAX_EVERY + ", got " + every);
        }
        if (rate < 0 || rate > MAX_RATE) {
            throw new IllegalArgumentException("rate must be between 0 (unlimited) and " + MAX_RATE
                    + " records/s, got " + rate);
        }
        if (burst < 1 || burst > MAX_BURST) {
            throw new IllegalArgumentException("burst must be between 1 and " + MAX_BURST + ", got " + burst);
        }
    }

    public SampleSetting withEnabled(boolean on) {
        return new SampleSetting(on, every, rate, burst, noAuto);
    }

    public SampleSetting withEvery(int n) {
        return new SampleSetting(enabled, n, rate, burst, noAuto);
    }

    public SampleSetting withRate(int perSecond, int depth) {
        return new SampleSetting(enabled, every, perSecond, depth, noAuto);
    }

    public SampleSetting withNoAuto(boolean pinned) {
        return new SampleSetting(enabled, every, rate, burst, pinned);
    }

    /** Nanoseconds between records at {@link #rate}, 0 when unlimited: the kernel never divides. */
    public long intervalNanos() {
        return rate == 0 ? 0 : 1_000_000_000L / rate;
    }

    /** The same setting as a short human string, e.g. {@code on 1/10 500/s burst 50}. */
    public String describe() {
        if (!enabled) {
            return "off";
        }
        return "on" + (every > 1 ? " 1/" + every : "") + (rate > 0 ? " " + rate + "/s burst " + burst : "")
                + (noAuto ? " no-auto" : "");
    }
}
