package io.busprobe.maps;

import io.busprobe.bindings.bp_retrans_stats;

/**
 * Retransmitted segments of one trigger ({@code enum bp_retrans_kind}), summed over
 * CPUs ({@code struct bp_retrans_stats}, map {@code retrans_triggers}): what the
 * kernel added to TcpRetransSegs, and of that what its own stack then failed to
 * send (TCPRetransFail).
 */
public record RetransStats(long segs, long unsentSegs) {
    public static final RetransStats ZERO = new RetransStats(0, 0);

    /** The map's name in bpf/tcp_retransmit.bpf.c. */
    public static final String MAP = "retrans_triggers";

    public RetransStats plus(RetransStats o) {
        return new RetransStats(segs + o.segs, unsentSegs + o.unsentSegs);
    }

    /** One trigger's counters in the {@code retrans_triggers} map behind {@code fd}, summed over CPUs. */
    public static RetransStats read(int fd, int trigger) {
        long[] f = new long[2];
        PerCpu.forEachCpu(fd, MAP, trigger, bp_retrans_stats.layout(), v -> {
            f[0] += bp_retrans_stats.segs(v);
            f[1] += bp_retrans_stats.unsent_segs(v);
        });
        return new RetransStats(f[0], f[1]);
    }
}
