package io.busprobe.metrics;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicMaps.Row;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Per-topic counters of bus clients' sends (the {@code topic_stats} and {@code topic_other} maps
 * of {@code bpf/topic.bpf.h}), read once per scrape, with bounded labels: per endpoint the
 * {@code top} topics by retransmitted segments (then bytes sent), and one {@code other} series
 * that holds the rest, so that an endpoint never has more than {@code top + 1} series whatever
 * the number of channels, and the series of an endpoint sum to its exact count.
 *
 * <p>The set of topics shown changes as topics overtake each other, and every series must stay a
 * counter. A topic that joins the set starts from 0 at that scrape (what it had before stays in
 * {@code other}, which has exported it already); a topic that leaves it hands what its series
 * showed to {@code other}. So {@code other} only grows, and over an endpoint the series always sum
 * to the kernel's counts since the endpoint got its name. Topics are the client direction's: the
 * tags come from this host's sends to the bus.
 *
 * <p>{@code busprobe_topic_reconcile_segments} checks the kernel side: the endpoint's exact
 * {@code retrans_segs} (client) less the sum over every topic row and the endpoint's other slot.
 * The endpoint is read before and after the topic rows, and the kernel charges a topic right after
 * it counts the endpoint, so a sum anywhere between the two readings is consistent and reads 0;
 * anything else is how far outside it lies.
 *
 * {@snippet :
 * registry.register(new TopicCounters(source, 50));
 * // busprobe_topic_retransmitted_segments_total{bus="redis",endpoint="cache",op="publish",topic="orders.paid"} 12
 * }
 */
public final class TopicCounters implements MultiCollector {
    public static final String RETRANS = "busprobe_topic_retransmitted_segments";
    public static final String SENT = "busprobe_topic_sent_bytes";
    public static final String RECONCILE = "busprobe_topic_reconcile_segments";
    /** Default of {@code run --topic-top}. */
    public static final int DEFAULT_TOP = 50;
    /** The same, as an annotation's default value. */
    public static final String DEFAULT_TOP_TEXT = "50";
    /** The op label of an endpoint's {@link TopicMaps#OTHER_NAME} series, as {@code bus="none"} is endpoint other's. */
    public static final String OTHER_OP = "none";

    private static final String RETRANS_HELP = "Retransmitted segments of a bus client's connections by the topic "
            + "whose bytes they resent (Redis channel or stream or command, NATS subject, Kafka topic), exact. Per "
            + "endpoint the --topic-top topics with the most retransmitted segments, and other for the rest: "
            + "untagged sends, topics outside the top and topics the kernel table had no room for. A topic that "
            + "joins the top starts from 0; over an endpoint the series sum to "
            + "busprobe_endpoint_retransmitted_segments_total{direction=\"client\"}.";
    private static final String SENT_HELP = "Bytes the application handed to a bus client's sockets under each "
            + "topic (not counting retransmissions), the same series as " + RETRANS + "_total.";
    private static final String RECONCILE_HELP = "The endpoint's exact retransmitted segments (client) less the sum "
            + "of its topics and other as the kernel counted them; 0 unless a segment was counted for the endpoint "
            + "and not for a topic.";

    private final MetricsSource source;
    private final int top;
    private final Map<Integer, Shown> shown = new HashMap<>();

    /** What one endpoint's series showed: the topics in the top and where each started. */
    private static final class Shown {
        String as;
        /** Kernel totals when the endpoint got this name: {retrans, bytes}. */
        long[] zero = {0, 0};
        /** Topic tag to its kernel counts when it joined the top: {retrans, bytes}. */
        final Map<Long, long[]> base = new HashMap<>();
        /** Every topic's kernel counts at the last scrape: what other has shown of it so far. */
        Map<Long, Row> last = Map.of();
    }

    public TopicCounters(MetricsSource source, int top) {
        if (top < 0) {
            throw new IllegalArgumentException("topic top must be >= 0: " + top);
        }
        this.source = source;
        this.top = top;
    }

    @Override
    public synchronized MetricSnapshots collect() {
        List<Name> names = source.endpointNames();
        Map<Integer, Long> before = new HashMap<>();
        for (Name n : names) {
            if (named(n)) {
                before.put(n.id(), source.endpointTotals(n.id(), Direction.CLIENT).retransSegs());
            }
        }
        Map<Integer, List<Row>> rows = new HashMap<>();
        for (Row r : source.topicRows()) {
            if (r.direction() == Direction.CLIENT) {
                rows.computeIfAbsent(r.endpoint(), e -> new ArrayList<>()).add(r);
            }
        }
        CounterSnapshot.Builder retrans = CounterSnapshot.builder().name(RETRANS).help(RETRANS_HELP);
        CounterSnapshot.Builder sent = CounterSnapshot.builder().name(SENT).unit(Unit.BYTES).help(SENT_HELP);
        GaugeSnapshot.Builder reconcile = GaugeSnapshot.builder().name(RECONCILE).help(RECONCILE_HELP);
        for (Name n : names) {
            if (!named(n)) {
                continue;
            }
            String bus = BusType.labelOf(n.bus());
            List<Row> mine = rows.getOrDefault(n.id(), List.of());
            long sum = 0;
            for (Row r : mine) {
                sum += r.retransSegs();
            }
            long after = source.endpointTotals(n.id(), Direction.CLIENT).retransSegs();
            reconcile.dataPoint(GaugeDataPointSnapshot.builder()
                    .labels(Labels.of("endpoint", n.name(), "bus", bus))
                    .value(outside(before.get(n.id()), after, sum)).build());
            for (Map.Entry<Labels, long[]> e : series(n.id(), n.name() + "/" + bus, mine).entrySet()) {
                Labels labels = Labels.of("endpoint", n.name(), "bus", bus).merge(e.getKey());
                retrans.dataPoint(CounterDataPointSnapshot.builder().labels(labels).value(e.getValue()[0]).build());
                sent.dataPoint(CounterDataPointSnapshot.builder().labels(labels).value(e.getValue()[1]).build());
            }
        }
        return MetricSnapshots.of(retrans.build(), sent.build(), reconcile.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(RETRANS, SENT, RECONCILE);
    }

    private static boolean named(Name n) {
        return !n.name().isEmpty() && n.id() != 0;
    }

    /**
     * How far {@code sum} lies outside [{@code before}, {@code after}]: positive when the endpoint
     * counted segments no topic took, negative when the topics took more than the endpoint counted.
     */
    static long outside(long before, long after, long sum) {
        if (sum < before) {
            return before - sum;
        }
        return sum > after ? after - sum : 0;
    }

    /** The series of one endpoint, {@code op} and {@code topic} labels to {retrans, bytes}; other last. */
    private Map<Labels, long[]> series(int id, String as, List<Row> rows) {
        Shown s = shown.computeIfAbsent(id, k -> new Shown());
        long[] total = {0, 0};
        Map<Long, Row> byTag = new HashMap<>();
        for (Row r : rows) {
            total[0] += r.retransSegs();
            total[1] += r.bytesSent();
            if (r.tag() != 0) {
                byTag.put(r.tag(), r);
            }
        }
        if (s.as != null && !s.as.equals(as)) {
            // a reload gave the id to another endpoint: its series start from 0, not from the previous one's
            s.zero = total.clone();
            s.base.clear();
            s.last = byTag;
        }
        s.as = as;
        Set<Long> wanted = top(byTag.values(), top);
        s.base.keySet().removeIf(tag -> !wanted.contains(tag));
        for (long tag : wanted) {
            // a topic joins at what other has shown of it: other keeps that, and does not shrink
            Row was = s.last.get(tag);
            s.base.putIfAbsent(tag, was == null ? new long[] {0, 0} : new long[] {was.retransSegs(), was.bytesSent()});
        }
        s.last = byTag;
        Map<Labels, long[]> out = new LinkedHashMap<>();
        long[] other = {total[0] - s.zero[0], total[1] - s.zero[1]};
        for (long tag : wanted) {
            Row r = byTag.get(tag);
            long[] b = s.base.get(tag);
            long[] v = {r.retransSegs() - b[0], r.bytesSent() - b[1]};
            other[0] -= v[0];
            other[1] -= v[1];
            // two tags may share a label (a name cut at BP_TOPIC_LEN): one series, their sum
            out.merge(Labels.of("op", r.op().isEmpty() ? "unknown" : r.op(), "topic", r.name()), v,
                    (x, y) -> new long[] {x[0] + y[0], x[1] + y[1]});
        }
        out.put(Labels.of("op", OTHER_OP, "topic", TopicMaps.OTHER_NAME), other);
        return out;
    }

    /** The tags of the {@code k} rows with the most retransmitted segments, then bytes sent. */
    static Set<Long> top(Iterable<Row> rows, int k) {
        PriorityQueue<Row> heap = new PriorityQueue<>(TopicMaps.WORST_FIRST.reversed());
        for (Row r : rows) {
            if (k == 0) {
                break;
            }
            heap.add(r);
            if (heap.size() > k) {
                heap.poll();
            }
        }
        Set<Long> tags = new HashSet<>();
        for (Row r : heap) {
            tags.add(r.tag());
        }
        return tags;
    }
}
