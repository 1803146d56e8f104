package io.busprobe.metrics;

import io.busprobe.bpf.DropReasons;
import io.busprobe.endpoint.BusType;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.EndpointMaps.Name;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code busprobe_packet_drops_total}: the exact drop counters of {@code drop_stats}
 * (bpf/drop.bpf.c), one series per reason, endpoint and direction the kernel has counted in,
 * read from the mapped map at scrape time. Nothing is counted in Java.
 *
 * <p>Labels are bounded by the kernel's {@code enum skb_drop_reason} (plus {@code OTHER}) times
 * the endpoints: {@code reason} (the kernel's name, see {@link DropReasons}), {@code loss}
 * ({@code false} for the reasons of {@link DropReasons#NOT_LOSSES}, fixed by the reason),
 * {@code endpoint}, {@code bus} and {@code direction} as in every endpoint metric.
 *
 * {@snippet :
 * registry.register(new DropCounters(source));
 * // busprobe_packet_drops_total{bus="kafka",direction="server",endpoint="orders",loss="true",reason="NETFILTER_DROP"} 233
 * }
 */
final class DropCounters implements MultiCollector {
    static final String DROPS = "busprobe_packet_drops";
    static final String LISTEN_OVERFLOWS = "busprobe_tcp_listen_overflows";

    private static final String LISTEN_HELP = "SYNs and handshake ACKs a listener of the bus endpoint turned away because "
            + "its accept queue was full (what TcpExtListenOverflows counts), exact: the drops of reason "
            + "TCP_LISTEN_OVERFLOW, SYNs freed as consumed included. A broker that cannot accept fast enough.";

    private static final String HELP = "Packets the kernel dropped (skb:kfree_skb), exact, by the kernel's drop reason "
            + "(enum skb_drop_reason, names read from its BTF), endpoint, bus and direction; the packet's socket, or "
            + "else its headers, names the endpoint. loss=\"false\" marks reasons that are no loss to a peer "
            + "(NOT_SPECIFIED, TCP_OLD_DATA, QUEUE_PURGE, ...: README \"Drops\").";

    private final MetricsSource source;

    DropCounters(MetricsSource source) {
        this.source = source;
    }

    @Override
    public MetricSnapshots collect() {
        CounterSnapshot.Builder drops = CounterSnapshot.builder().name(DROPS).help(HELP);
        CounterSnapshot.Builder overflows = CounterSnapshot.builder().name(LISTEN_OVERFLOWS).help(LISTEN_HELP);
        List<DropStats.Cell> cells = source.drops();
        DropReasons reasons = source.dropReasons();
        Map<Integer, Name> names = new HashMap<>();
        source.endpointNames().forEach(n -> names.put(n.id(), n));
        int overflowSlot = reasons.code("TCP_LISTEN_OVERFLOW");
        Map<Integer, Long> overflowsById = new HashMap<>();
        for (DropStats.Cell c : cells) {
            if (c.slot() == overflowSlot) {
                overflowsById.merge(c.endpoint(), c.count(), Long::sum);
            }
        }
        if (overflowSlot >= 0 && overflowSlot < DropStats.OTHER_SLOT) {
            for (Name n : names.values()) {
                if (!n.name().isEmpty()) {
                    overflows.dataPoint(CounterDataPointSnapshot.builder()
                            .labels(Labels.of("endpoint", n.name(), "bus", BusType.labelOf(n.bus())))
                            .value(overflowsById.getOrDefault(n.id(), 0L)).build());
                }
            }
        }
        if (!cells.isEmpty()) {
            for (DropStats.Cell c : cells) {
                Name n = names.get(c.endpoint());
                if (n == null || n.name().isEmpty()) {
                    continue; // an id the running config does not use: its counts are from an earlier config
                }
                drops.dataPoint(CounterDataPointSnapshot.builder()
                        .labels(Labels.of("reason", reasons.slotName(c.slot()), "loss",
                                Boolean.toString(reasons.slotLoss(c.slot())), "endpoint", n.name(), "bus",
                                BusType.labelOf(n.bus()), "direction", c.direction().label()))
                        .value(c.count()).build());
            }
        }
        return new MetricSnapshots(drops.build(), overflows.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(DROPS, LISTEN_OVERFLOWS);
    }
}
