package io.busprobe.metrics;

import io.busprobe.bpf.KindStats;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.RetransStats;
import io.busprobe.control.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;

import java.util.List;
import java.util.Map;

/**
 * Everything the collectors read at scrape time, as one seam: the running
 * {@link io.busprobe.agent.Session} in the agent ({@link SessionSource}), plain
 * values in unit tests. Called from the HTTP scrape thread.
 */
interface MetricsSource {
    /** Exact per-kind counters from the {@code kind_stats} map, every kind present. */
    Map<EventKind, KindStats> kindStats();

    /** Segments the kernel counted as retransmitted, of one trigger ({@code enum bp_retrans_kind}). */
    RetransStats retransStats(int trigger);

    /** Whether a probe's program is attached. */
    boolean attached(Probe p);

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
