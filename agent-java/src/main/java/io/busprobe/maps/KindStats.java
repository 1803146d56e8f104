package io.busprobe.maps;

/**
 * Exact per-kind counters from the {@code kind_stats} map, summed over CPUs
 * ({@code struct bp_kind_stats}). Invariant kept by the BPF side:
 * {@code seen == sampledOut + rateLimited + submitted + dropped}.
 */
public record KindStats(long seen, long sampledOut, long rateLimited, long submitted, long dropped, long segs) {
    public static final KindStats ZERO = new KindStats(0, 0, 0, 0, 0, 0);

    public KindStats plus(KindStats o) {
        return new KindStats(seen + o.seen, sampledOut + o.sampledOut, rateLimited + o.rateLimited,
                submitted + o.submitted, dropped + o.dropped, segs + o.segs);
    }

    /** Whether every hit is accounted for. */
    public boolean balanced() {
        return seen == sampledOut + rateLimited + submitted + dropped;
    }
}
