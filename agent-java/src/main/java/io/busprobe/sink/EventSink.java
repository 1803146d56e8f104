package io.busprobe.sink;

import io.busprobe.bpf.ProbeStatus;
import io.busprobe.connection.ConnectionTable;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.maps.KindStats;

import java.util.List;
import java.util.Map;

/** Where {@code busprobe trace} writes events and its closing summary. */
public interface EventSink extends AutoCloseable {
    void event(EventView ev);

    /** Called after each ring poll that produced events. */
    void flush();

    void summary(Summary summary);

    /** A connection closed (tcplife record); sinks that do not show these ignore it. */
    default void connection(ConnectionTable.Closed c) {
    }

    @Override
    void close();

    /**
     * End-of-run accounting: exact kernel counters per kind and what the reader got.
     *
     * @param recordsRead records handed to the sink, all kinds
     */
    record Summary(long durationMs, Map<EventKind, KindStats> kinds, long recordsRead, long recordsDiscarded,
                   List<ProbeStatus> probes, Map<String, Long> dropReasons) {
        /** Without drop reasons: a trace that did not load the drop family. */
        public Summary(long durationMs, Map<EventKind, KindStats> kinds, long recordsRead, long recordsDiscarded,
                       List<ProbeStatus> probes) {
            this(durationMs, kinds, recordsRead, recordsDiscarded, probes, Map.of());
        }

        public long dropped() {
            return kinds.values().stream().mapToLong(KindStats::dropped).sum();
        }

        public long submitted() {
            return kinds.values().stream().mapToLong(KindStats::submitted).sum();
        }
    }
}
