package io.busprobe.metrics;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.EndpointMaps.Totals;
import io.busprobe.event.RetransKind;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The exact per-endpoint, per-direction counters of the {@code endpoint_stats}
 * map ({@code struct bp_endpoint_stats} in {@code bpf/events.h}), read once per
 * endpoint and direction per scrape, so that every family of a scrape comes from
 * the same reading. Nothing is counted in Java.
 *
 * <p>Labels are bounded: {@code endpoint} (the configured names, at most 63, plus
 * {@code other}), {@code bus} ({@link BusType#label()}, {@code none} for
 * {@code other}) and {@code direction} ({@code client}, {@code server}; {@code none}
 * for {@code other}). Ids without a name export nothing.
 *
 * <p>Endpoint ids are assigned in file order, so a reload can give an id, and the
 * counters the kernel keeps under it, to another endpoint. The first scrape that
 * sees a new name on an id takes the id's counters at that moment as the new
 * series' zero: the series starts again from 0 (a counter reset to Prometheus)
 * instead of inheriting the previous endpoint's traffic. What was counted between
 * the reload and that scrape is lost to both names.
 *
 * {@snippet :
 * registry.register(new EndpointCounters(source));
 * // busprobe_endpoint_retransmitted_segments_total{bus="kafka",direction="client",endpoint="orders"} 12
 * }
 */
final class EndpointCounters implements MultiCollector {
    private record Family(String name, Unit unit, String help, ToLongFunction<Totals> value) {
    }

    // Bytes and segments come from the socket's own tcp_sock counters, added to the endpoint at
    // each retransmit, at close and by the daemon's once-a-second TCP iterator (bp_add_traffic in
    // bpf/endpoint_stats.bpf.h, refresh_tcp_traffic in bpf/tcp_state.bpf.c), not per packet.
    private static final String TRAFFIC_TIMING = " Taken from the socket's own counters at each retransmit, at "
            + "close and once a second, so traffic arrives in steps of about a second.";

    private static final List<Family> FAMILIES = List.of(
            new Family("busprobe_endpoint_connections_opened", null,
                    "TCP connections to or from a bus endpoint that reached ESTABLISHED, exact, by endpoint, bus "
                            + "and direction (client: this host connected; server: this host accepted).",
                    Totals::connOpened),
            new Family("busprobe_endpoint_connections_closed", null,
                    "TCP connections of a bus endpoint closed after being established, exact.",
                    Totals::connClosed),
            new Family("busprobe_endpoint_connections_failed", null,
                    "TCP connection attempts of a bus endpoint closed before ESTABLISHED (from SYN_SENT or SYN_RECV: "
                            + "refused, reset or timed out), exact.",
                    Totals::connFailed),
            new Family("busprobe_endpoint_sent_bytes", Unit.BYTES,
                    "Bytes this host sent on a bus endpoint's TCP connections (tcp_sock.bytes_sent: payload, "
                            + "retransmissions included)." + TRAFFIC_TIMING,
                    Totals::bytesSent),
            new Family("busprobe_endpoint_received_bytes", Unit.BYTES,
                    "Bytes this host received on a bus endpoint's TCP connections (tcp_sock.bytes_received: "
                            + "payload acknowledged)." + TRAFFIC_TIMING,
                    Totals::bytesReceived),
            new Family("busprobe_endpoint_segments_sent", null,
                    "TCP segments this host sent on a bus endpoint's connections (tcp_sock.segs_out, "
                            + "retransmissions included): the denominator of the retransmit ratio." + TRAFFIC_TIMING,
                    Totals::segsOut),
            new Family("busprobe_endpoint_segments_received", null,
                    "TCP segments this host received on a bus endpoint's connections (tcp_sock.segs_in)."
                            + TRAFFIC_TIMING,
                    Totals::segsIn),
            new Family("busprobe_endpoint_retransmitted_segments", null,
                    "TCP segments this host retransmitted on a bus endpoint's connections: what the kernel added to "
                            + "TcpRetransSegs for them (SYN-ACKs included), exact.",
                    Totals::retransSegs),
            new Family("busprobe_endpoint_resets_sent", null,
                    "TCP RSTs the stack sent on a bus endpoint's connections (tcp_send_reset), exact.",
                    Totals::resetsSent),
            new Family("busprobe_endpoint_resets_received", null,
                    "TCP RSTs accepted on a bus endpoint's connections (tcp_receive_reset): the peer aborted, exact.",
                    Totals::resetsReceived),
            new Family("busprobe_endpoint_socket_pressure_events", null,
                    "Socket-buffer pressure on a bus endpoint's sockets: full receive queues plus refused "
                            + "socket-memory charges, exact.",
                    Totals::pressure));

    static final String TRIGGERS = "busprobe_endpoint_retransmit_trigger_segments";

    private static final String TRIGGERS_HELP = "busprobe_endpoint_retransmitted_segments_total by trigger, as the "
            + "kernel's MIBs tell them apart: fast (TCPFastRetrans), rto (TCPSlowStartRetrans and each timeout's first "
            + "retransmit), tlp (TCPLossProbes that resent data), syn and synack (TCPSynRetrans), unknown; exact.";

    static final String LIFETIME = "busprobe_endpoint_connection_lifetime_seconds";

    /**
     * Upper bounds of the lifetime buckets, seconds: kernel slot i counts lifetimes
     * whose floor(log2(µs)) is i, i.e. [2^i, 2^(i+1)) µs (slot 0 also holds [0, 1) µs),
     * so its bound is 2^(i+1) µs; the last slot (2^31 µs, about 36 min, and longer)
     * is the +Inf bucket.
     */
    static final double[] LIFETIME_BOUNDS = lifetimeBounds();

    private static final String LIFETIME_HELP = "Lifetime of a bus endpoint's TCP connections from ESTABLISHED "
            + "to close, as tcplife measures it, for connections busprobe saw open (older connections count in "
            + "busprobe_endpoint_connections_closed_total but not here). Exact counts from the kernel's log2 "
            + "microsecond slots: le=2^(i+1) us, up to 2^31 us (about 36 min), then +Inf. No _sum: the kernel keeps "
            + "only the slots; use le=\"+Inf\" for the count.";

    private static final int SLOTS = LIFETIME_BOUNDS.length;

    private final MetricsSource source;
    // per id: the endpoint (name/bus) its counters were last exported under, and that endpoint's zero
    private final String[] exportedAs = new String[EndpointMaps.MAX_ENDPOINTS];
    private final Totals[][] base = new Totals[EndpointMaps.MAX_ENDPOINTS][Direction.values().length];

    EndpointCounters(MetricsSource source) {
        this.source = source;
    }

    @Override
    public synchronized MetricSnapshots collect() {
        List<CounterSnapshot.Builder> counters = new ArrayList<>(FAMILIES.size());
        for (Family f : FAMILIES) {
            counters.add(CounterSnapshot.builder().name(f.name).unit(f.unit).help(f.help));
        }
        CounterSnapshot.Builder triggers = CounterSnapshot.builder().name(TRIGGERS).help(TRIGGERS_HELP);
        HistogramSnapshot.Builder lifetime = HistogramSnapshot.builder().name(LIFETIME).unit(Unit.SECONDS)
                .help(LIFETIME_HELP);
        for (Name n : source.endpointNames()) {
            if (n.name().isEmpty() || n.id() < 0 || n.id() >= exportedAs.length) {
                continue;
            }
            String bus = BusType.labelOf(n.bus());
            rebaseIfRenamed(n.id(), n.name() + "/" + bus);
            for (Direction d : Direction.of(n.id())) {
                Totals t = sinceBase(n.id(), d, source.endpointTotals(n.id(), d));
                Labels labels = Labels.of("endpoint", n.name(), "bus", bus, "direction", d.label());
                for (int i = 0; i < FAMILIES.size(); i++) {
                    counters.get(i).dataPoint(CounterDataPointSnapshot.builder().labels(labels)
                            .value(FAMILIES.get(i).value.applyAsLong(t)).build());
                }
                for (int k = 0; k < t.retransTriggerSegs().length; k++) {
                    triggers.dataPoint(CounterDataPointSnapshot.builder()
                            .labels(labels.add("trigger", RetransKind.name(k))).value(t.retransTriggerSegs()[k]).build());
                }
                lifetime.dataPoint(HistogramDataPointSnapshot.builder().labels(labels)
                        .classicHistogramBuckets(lifetimeBuckets(t.lifetimeUsLog2())).build());
            }
        }
        List<MetricSnapshot> out = new ArrayList<>(FAMILIES.size() + 1);
        counters.forEach(b -> out.add(b.build()));
        out.add(triggers.build());
        out.add(lifetime.build());
        return new MetricSnapshots(out);
    }

    @Override
    public List<String> getPrometheusNames() {
        List<String> names = new ArrayList<>(FAMILIES.stream().map(Family::name).toList());
        names.add(TRIGGERS);
        names.add(LIFETIME);
        return names;
    }

    /**
     * The kernel's per-slot counts as histogram buckets (the client makes them
     * cumulative). Slot 31 and anything beyond {@code LIFETIME_BOUNDS} land in +Inf.
     */
    static ClassicHistogramBuckets lifetimeBuckets(long[] slots) {
        long[] counts = new long[SLOTS];
        for (int i = 0; i < slots.length; i++) {
            counts[Math.min(i, SLOTS - 1)] += slots[i];
        }
        return ClassicHistogramBuckets.of(LIFETIME_BOUNDS, counts);
    }

    private void rebaseIfRenamed(int id, String endpoint) {
        String before = exportedAs[id];
        if (before != null && !before.equals(endpoint)) {
            for (Direction d : Direction.values()) {
                base[id][d.id()] = null;
            }
            for (Direction d : Direction.of(id)) {
                base[id][d.id()] = source.endpointTotals(id, d);
            }
        }
        exportedAs[id] = endpoint;
    }

    private Totals sinceBase(int id, Direction d, Totals now) {
        Totals zero = base[id][d.id()];
        return zero == null ? now : now.minus(zero);
    }

    private static double[] lifetimeBounds() {
        double[] b = new double[EndpointMaps.LIFETIME_SLOTS];
        for (int i = 0; i < b.length - 1; i++) {
            // 2^(i+1) and 1e6 are exact doubles, so the quotient is the double nearest 2^(i+1) µs in seconds
            b[i] = (double) (1L << (i + 1)) / 1e6;
        }
        b[b.length - 1] = Double.POSITIVE_INFINITY;
        return b;
    }
}
