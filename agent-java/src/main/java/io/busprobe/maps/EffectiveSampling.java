package io.busprobe.maps;

/**
 * What the kernel does with a kind's hits right now: whether records go out at all, 1 in how many,
 * and at most how many per second. The one place Java computes it, for {@code busprobe sample},
 * {@code busprobe status} and the {@code busprobe_sampling_ratio} metric.
 *
 * <p>It mirrors {@code bp_account()} in {@code bpf/maps.bpf.h}; a change to the rule there is a
 * change here. The kernel emits when the operator's {@code sampling} entry is enabled and the
 * {@code settings} emit switch is on; it thins 1 in max(operator every, automatic every), the
 * automatic one ({@code sampling_auto}) ignored for a kind with {@code BP_SAMPLE_NO_AUTO}; and it
 * rate-limits at the operator's rate (the daemon writes only a 1-in-N into {@code sampling_auto},
 * never an interval, so the stricter interval the kernel takes is always the operator's). The
 * kernel has no notion of "attached": a kind whose probe is not attached has no hits, so it is off
 * here.
 *
 * {@snippet :
 * EffectiveSampling e = EffectiveSampling.of(operator, maps.autoEvery(kind), maps.settings(), true);
 * e.describe(); // "1/40, <= 500/s"
 * }
 *
 * @param on        records can go out: attached, enabled by the operator, emit on
 * @param every     1 in N of the hits that reach the sampling step (1: every hit)
 * @param autoEvery the automatic 1-in-N that applies: 1 for a kind exempt with --no-auto
 * @param rate      at most this many records per second, 0 for no limit
 */
public record EffectiveSampling(boolean on, int every, int autoEvery, int rate) {
    /**
     * @param operator  the kind's entry in the operator's {@code sampling} map
     * @param autoEvery the kind's 1-in-N in the daemon's {@code sampling_auto} map
     * @param settings  the global {@code settings} (the emit switch)
     * @param attached  whether a probe emitting the kind's records is attached
     */
    public static EffectiveSampling of(SampleSetting operator, int autoEvery, Settings settings, boolean attached) {
        int auto = operator.noAuto() ? 1 : Math.max(1, autoEvery);
        return new EffectiveSampling(attached && operator.enabled() && settings.emit(),
                Math.max(operator.every(), auto), auto, operator.rate());
    }

    /** The fraction of hits that may become records, 1/N; 0 when off. The rate limit is not in it. */
    public double ratio() {
        return on ? 1.0 / every : 0.0;
    }

    /** {@code off}, {@code 1/10} or {@code 1/10, <= 500/s}. */
    public String describe() {
        return !on ? "off" : "1/" + every + (rate > 0 ? ", <= " + rate + "/s" : "");
    }
}
