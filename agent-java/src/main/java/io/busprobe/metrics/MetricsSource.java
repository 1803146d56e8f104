package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;

import java.util.List;
import java.util.Map;

/**
 * Everything the collectors read at scrape time, as one seam: defined here, where it is read,
 * and implemented above, by the agent over its running session, or by unit tests with plain
 * values. Called from the HTTP scrape thread.
 */
public interface MetricsSource {
    /** Exact per-kind counters from the {@code kind_stats} map, every kind present. */
    Map<EventKind, KindStats> kindStats();

    /** Segments the kernel counted as retransmitted, of one trigger ({@code enum bp_retrans_kind}). */
    RetransStats retransStats(int trigger);

    /** Whether a probe's program is attached. */
    boolean attached(Probe p);

    /** What the kernel does with a kind's hits now, read from the sampling maps at each call. */
    EffectiveSampling sampling(EventKind k);

    /** Run statistics of an attached probe's program, or null when it is not attached. */
    ProgramRunStats programStats(Probe p);

    long ringSizeBytes();

    long ringPendingBytes();

    long recordsRead();

    long recordsDiscarded();

    /** Every endpoint id with the name and bus the daemon installed; an empty name for an unused id. */
    List<EndpointMaps.Name> endpointNames();

    /** Exact counters of one endpoint and direction, summed over CPUs. */
    EndpointMaps.Totals endpointTotals(int endpoint, Direction direction);
}
