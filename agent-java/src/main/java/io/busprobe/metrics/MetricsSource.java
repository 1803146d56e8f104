package io.busprobe.metrics;

import io.busprobe.bpf.DropReasons;
import io.busprobe.bpf.Probe;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;

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

    /** Entries of the socket table ({@code run --socket-table-size}); 0 for a source without one. */
    default long socketTableSize() {
        return 0;
    }

    /** Established connections the socket table evicted, from the kernel's counter; 0 for a source without one. */
    default long socketTableEvictions() {
        return 0;
    }

    long ringPendingBytes();

    long recordsRead();

    long recordsDiscarded();

    /**
     * Network namespaces with processes in them that the last endpoint-traffic refresh could not
     * enter (a missing capability): their sockets' traffic is counted only at retransmit and close.
     * 0 for a source without a traffic refresh (the unit tests' plain values).
     */
    default int netnsUnreachable() {
        return 0;
    }

    /** Every endpoint id with the name and bus the daemon installed; an empty name for an unused id. */
    List<EndpointMaps.Name> endpointNames();

    /** Exact counters of one endpoint and direction, summed over CPUs. */
    EndpointMaps.Totals endpointTotals(int endpoint, Direction direction);

    /** The non-zero cells of the exact drop counters ({@code drop_stats}); none when there is no drop family. */
    default List<DropStats.Cell> drops() {
        return List.of();
    }

    /** Names of the running kernel's drop reasons. */
    default DropReasons dropReasons() {
        return DropReasons.running();
    }

    /** Every topic row of the topic maps, other slots included, summed over CPUs; none where tagging is absent. */
    default List<TopicMaps.Row> topicRows() {
        return List.of();
    }

    /**
     * The subscribers of each endpoint's topics (the receive side), summed per topic, as the
     * traffic refresh last sampled them; none for a source without them.
     */
    default List<TopicSubscribers.Pressure> topicPressure() {
        return List.of();
    }
}
