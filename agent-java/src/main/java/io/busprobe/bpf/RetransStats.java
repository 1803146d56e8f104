package io.busprobe.bpf;

/**
 * Retransmitted segments of one trigger ({@code enum bp_retrans_kind}), summed over
 * CPUs ({@code struct bp_retrans_stats}, map {@code retrans_triggers}): what the
 * kernel added to TcpRetransSegs, and of that what its own stack then failed to
 * send (TCPRetransFail).
 */
public record RetransStats(long segs, long unsentSegs) {
    public static final RetransStats ZERO = new RetransStats(0, 0);

    public RetransStats plus(RetransStats o) {
        return new RetransStats(segs + o.segs, unsentSegs + o.unsentSegs);
    }
}
