package io.busprobe.metrics;

import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.RetransStats;
import io.busprobe.event.RetransKind;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * The exact tier-1 counters of the {@code kind_stats} map, read once per scrape
 * (one per-CPU lookup per kind) so that every family in a scrape comes from the
 * same reading and {@code seen == sampled_out + rate_limited + submitted +
 * dropped} holds within it. Nothing is counted in Java.
 *
 * <p>The same map feeds two views: the TCP metrics an operator reads
 * ({@code busprobe_tcp_*}, {@code busprobe_socket_pressure_*}) and the
 * accounting of the sampling tier ({@code busprobe_events_total},
 * {@code busprobe_records_*_total}), all labelled by {@code kind}, the
 * {@link EventKind#label()} of {@code bpf/events.h}.
 */
final class KernelCounters implements MultiCollector {
    private record KindCounter(String name, String help, Predicate<EventKind> kinds, ToLongFunction<KindStats> value,
                           boolean labelled) {
    }

    private static final List<KindCounter> FAMILIES = List.of(
            new KindCounter("busprobe_tcp_retransmitted_skbs",
                    "TCP retransmissions the kernel counted (tcp_retransmit_skb / tcp_retransmit_synack hits that "
                            + "moved TcpRetransSegs), exact, by kind.",
                    KernelCounters::counted, KindStats::seen, true),
            new KindCounter("busprobe_tcp_retransmitted_segments",
                    "TCP segments retransmitted: what the kernel added to TcpRetransSegs (tcp_skb_pcount), exact, "
                            + "by kind; the two kinds sum to the host's TcpRetransSegs.",
                    KernelCounters::counted, KindStats::segs, true),
            new KindCounter("busprobe_tcp_retransmit_failures",
                    "TCP retransmit attempts the kernel gave up before counting them (tcp_retransmit_skb with err, "
                            + "TcpRetransSegs unmoved: -EBUSY while the original is still in a host queue, -ENOMEM, "
                            + "no route, outside the peer's window), exact.",
                    k -> k == EventKind.RETRANSMIT_FAILED, KindStats::seen, false),
            new KindCounter("busprobe_tcp_retransmit_failure_segments",
                    "Segments of the TCP retransmit attempts the kernel gave up before counting them, exact.",
                    k -> k == EventKind.RETRANSMIT_FAILED, KindStats::segs, false),
            new KindCounter("busprobe_tcp_resets",
                    "TCP resets sent (tcp_send_reset) and accepted (tcp_receive_reset) by this host, exact, by kind.",
                    k -> k.family() == Family.RESET, KindStats::seen, true),
            new KindCounter("busprobe_tcp_state_transitions",
                    "TCP socket state changes (inet_sock_set_state, TCP only), exact.",
                    k -> k == EventKind.STATE, KindStats::seen, false),
            new KindCounter("busprobe_socket_pressure_events",
                    "Socket-buffer pressure: full receive queues (sock_rcvqueue_full) and refused socket-memory "
                            + "charges (sock_exceed_buf_limit), exact, by kind.",
                    k -> k.family() == Family.PRESSURE, KindStats::seen, true),
            new KindCounter("busprobe_events",
                    "Tracepoint hits counted in the kernel (tier 1, never sampled), by kind: the 'seen' of the "
                            + "sampling tier. Equals the sum of busprobe_records_{submitted,dropped,sampled_out,"
                            + "rate_limited}_total.",
                    k -> true, KindStats::seen, true),
            new KindCounter("busprobe_records_submitted",
                    "Event records the kernel committed to the ring buffer, by kind.",
                    k -> true, KindStats::submitted, true),
            new KindCounter("busprobe_records_dropped",
                    "Event records lost because the ring buffer was full (the hit is still counted), by kind.",
                    k -> true, KindStats::dropped, true),
            new KindCounter("busprobe_records_sampled_out",
                    "Hits not written to the ring because 1-in-N sampling skipped them or the kind is off, by kind.",
                    k -> true, KindStats::sampledOut, true),
            new KindCounter("busprobe_records_rate_limited",
                    "Hits not written to the ring because the kind's token bucket was empty, by kind.",
                    k -> true, KindStats::rateLimited, true));

    /** Per-trigger families ({@code retrans_triggers}), labelled by {@link RetransKind#name}. */
    private record TriggerCounter(String name, String help, ToLongFunction<RetransStats> value) {
    }

    private static final List<TriggerCounter> TRIGGERS = List.of(
            new TriggerCounter("busprobe_tcp_retransmit_trigger_segments",
                    "TCP segments the kernel added to TcpRetransSegs, exact, by trigger as its own MIBs tell them "
                            + "apart: fast (TCPFastRetrans), rto (TCPSlowStartRetrans and each timeout's first "
                            + "retransmit), tlp (TCPLossProbes that resent data), syn and synack (TCPSynRetrans), "
                            + "unknown. They sum to busprobe_tcp_retransmitted_segments_total.",
                    RetransStats::segs),
            new TriggerCounter("busprobe_tcp_retransmit_unsent_segments",
                    "Of busprobe_tcp_retransmit_trigger_segments_total, the segments this host's own stack then "
                            + "failed to send (a local firewall drop, a full device queue): TCPRetransFail, exact, "
                            + "by trigger. fast minus this is TCPFastRetrans.",
                    RetransStats::unsentSegs));

    private final MetricsSource source;

    KernelCounters(MetricsSource source) {
        this.source = source;
    }

    /** The kinds the kernel counted as retransmitted: they add up to TcpRetransSegs. */
    private static boolean counted(EventKind k) {
        return k == EventKind.RETRANSMIT || k == EventKind.RETRANSMIT_SYNACK;
    }

    @Override
    public MetricSnapshots collect() {
        Map<EventKind, KindStats> stats = source.kindStats();
        List<CounterSnapshot> out = new ArrayList<>(FAMILIES.size());
        for (KindCounter f : FAMILIES) {
            CounterSnapshot.Builder b = CounterSnapshot.builder().name(f.name).help(f.help);
            if (!f.labelled) {
                long sum = Arrays.stream(EventKind.values()).filter(f.kinds)
                        .mapToLong(k -> f.value.applyAsLong(stats.getOrDefault(k, KindStats.ZERO))).sum();
                b.dataPoint(CounterDataPointSnapshot.builder().value(sum).build());
            } else {
                for (EventKind k : EventKind.values()) {
                    if (f.kinds.test(k)) {
                        b.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("kind", k.label()))
                                .value(f.value.applyAsLong(stats.getOrDefault(k, KindStats.ZERO))).build());
                    }
                }
            }
            out.add(b.build());
        }
        RetransStats[] triggers = new RetransStats[RetransKind.COUNT];
        for (int t = 0; t < triggers.length; t++) {
            triggers[t] = source.retransStats(t);
        }
        for (TriggerCounter f : TRIGGERS) {
            CounterSnapshot.Builder b = CounterSnapshot.builder().name(f.name).help(f.help);
            for (int t = 0; t < triggers.length; t++) {
                b.dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("trigger", RetransKind.name(t)))
                        .value(f.value.applyAsLong(triggers[t])).build());
            }
            out.add(b.build());
        }
        return new MetricSnapshots(new ArrayList<>(out));
    }

    @Override
    public List<String> getPrometheusNames() {
        List<String> names = new ArrayList<>(FAMILIES.stream().map(KindCounter::name).toList());
        TRIGGERS.forEach(t -> names.add(t.name));
        return names;
    }
}
