package io.busprobe.metrics;

import io.busprobe.endpoint.BusType;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.maps.TopicSubscribers.Pressure;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The receive side of topics, slow-consumer detection: per endpoint and topic, the bytes waiting
 * in this host's subscriber sockets, their number, and how many offered a zero window, as the
 * traffic refresh last sampled them ({@code topic_sub}, {@code bpf/topic_sub.bpf.h}). Gauges of
 * samples, read at scrape time. Bounded like the send side's series: per named endpoint the
 * {@code top} topics with the most bytes waiting and one {@code other} series for the rest, always
 * there (0 when there is no rest), as the send side's {@code other} is.
 *
 * {@snippet :
 * registry.register(new TopicReceiveGauges(source, 50));
 * // busprobe_topic_receive_queue_bytes{bus="redis",endpoint="cache",topic="orders.paid"} 2.6e+06
 * }
 */
public final class TopicReceiveGauges implements MultiCollector {
    public static final String QUEUE = "busprobe_topic_receive_queue_bytes";
    public static final String SUBSCRIBERS = "busprobe_topic_subscribers";
    public static final String ZERO_WINDOW = "busprobe_topic_zero_window_subscribers";

    private static final String SAMPLED = " Sampled by the traffic refresh (about once a second, less often in a "
            + "network namespace that moved no segment); only subscribers on this host, each under its first "
            + "subscription's channel or subject.";
    private static final String QUEUE_HELP = "Bytes a bus endpoint's subscribers on this host have received and not "
            + "read yet (rcv_nxt - copied_seq, /proc/net/tcp's rx_queue), by the topic they subscribed to." + SAMPLED;
    private static final String SUBSCRIBERS_HELP = "Subscriber sockets of a bus endpoint on this host by the topic "
            + "they subscribed to." + SAMPLED;
    private static final String ZERO_WINDOW_HELP = "Subscriber sockets that offered the broker a zero window (their "
            + "receive buffer full: the broker cannot send them more) when last sampled." + SAMPLED;

    private final MetricsSource source;
    private final int top;

    public TopicReceiveGauges(MetricsSource source, int top) {
        if (top < 0) {
            throw new IllegalArgumentException("topic top must be >= 0: " + top);
        }
        this.source = source;
        this.top = top;
    }

    @Override
    public MetricSnapshots collect() {
        Map<Integer, List<Pressure>> byEndpoint = new HashMap<>();
        for (Pressure p : source.topicPressure()) {
            byEndpoint.computeIfAbsent(p.endpoint(), e -> new ArrayList<>()).add(p);
        }
        GaugeSnapshot.Builder queue = GaugeSnapshot.builder().name(QUEUE).unit(Unit.BYTES).help(QUEUE_HELP);
        GaugeSnapshot.Builder subscribers = GaugeSnapshot.builder().name(SUBSCRIBERS).help(SUBSCRIBERS_HELP);
        GaugeSnapshot.Builder zero = GaugeSnapshot.builder().name(ZERO_WINDOW).help(ZERO_WINDOW_HELP);
        for (Name n : source.endpointNames()) {
            if (n.name().isEmpty() || n.id() == 0) {
                continue;
            }
            for (Pressure p : shown(n.id(), byEndpoint.getOrDefault(n.id(), List.of()), top)) {
                Labels labels = Labels.of("endpoint", n.name(), "bus", BusType.labelOf(n.bus()), "topic", p.name());
                queue.dataPoint(GaugeDataPointSnapshot.builder().labels(labels).value(p.queueBytes()).build());
                subscribers.dataPoint(GaugeDataPointSnapshot.builder().labels(labels).value(p.subscribers()).build());
                zero.dataPoint(GaugeDataPointSnapshot.builder().labels(labels).value(p.zeroWindow()).build());
            }
        }
        return MetricSnapshots.of(queue.build(), subscribers.build(), zero.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(QUEUE, SUBSCRIBERS, ZERO_WINDOW);
    }

    /**
     * The {@code k} slowest topics of one endpoint ({@code rows} sorted slowest first, as
     * {@link TopicSubscribers#byTopic} returns them), and the rest summed under
     * {@link TopicMaps#OTHER_NAME}, last, 0 when there is no rest.
     */
    static List<Pressure> shown(int endpoint, List<Pressure> rows, int k) {
        int cut = Math.min(k, rows.size());
        List<Pressure> out = new ArrayList<>(rows.subList(0, cut));
        int subs = 0;
        int zero = 0;
        long bytes = 0;
        for (Pressure p : rows.subList(cut, rows.size())) {
            subs += p.subscribers();
            zero += p.zeroWindow();
            bytes += p.queueBytes();
        }
        out.add(new Pressure(endpoint, 0, TopicMaps.OTHER_NAME, subs, bytes, zero));
        return out;
    }
}
