package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicMaps.Row;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bounded topic series over a fixed source, no kernel: at most K + 1 series per endpoint,
 * series that only grow while topics overtake each other, a sum that is always the kernel's,
 * and a reconcile gauge that reads the kernel's own mismatch.
 */
class TopicCountersTest {
    private static final int CACHE = 3;
    private static final int REDIS = io.busprobe.endpoint.BusType.REDIS.id();

    private final List<Row> rows = new ArrayList<>();
    private long endpointRetrans;

    private final MetricsSource source = new MetricsSource() {
        @Override
        public Map<EventKind, KindStats> kindStats() {
            return Map.of();
        }

        @Override
        public RetransStats retransStats(int trigger) {
            return null;
        }

        @Override
        public boolean attached(Probe p) {
            return true;
        }

        @Override
        public EffectiveSampling sampling(EventKind k) {
            return null;
        }

        @Override
        public ProgramRunStats programStats(Probe p) {
            return null;
        }

        @Override
        public long ringSizeBytes() {
            return 0;
        }

        @Override
        public long ringPendingBytes() {
            return 0;
        }

        @Override
        public long recordsRead() {
            return 0;
        }

        @Override
        public long recordsDiscarded() {
            return 0;
        }

        @Override
        public List<EndpointMaps.Name> endpointNames() {
            List<EndpointMaps.Name> names = new ArrayList<>();
            for (int id = 0; id < 8; id++) {
                names.add(new EndpointMaps.Name(id, id == CACHE ? "cache" : "", id == CACHE ? REDIS : 0));
            }
            return names;
        }

        @Override
        public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
            long r = endpoint == CACHE && direction == Direction.CLIENT ? endpointRetrans : 0;
            return new EndpointMaps.Totals(0, 0, 0, 0, 0, 0, 0, r, 0, 0, 0, new long[EndpointMaps.LIFETIME_SLOTS],
                    new long[EndpointMaps.RETRANS_KINDS]);
        }

        @Override
        public List<Row> topicRows() {
            return List.copyOf(rows);
        }
    };

    /** The kernel's rows: one per topic (tag = index + 1, named ch-N) and other, {retrans, bytes} each. */
    private void kernel(long[] other, long[]... topics) {
        rows.clear();
        long sum = other[0];
        rows.add(new Row(CACHE, Direction.CLIENT, 0, TopicMaps.OTHER_NAME, "", other[0], other[1]));
        for (int i = 0; i < topics.length; i++) {
            rows.add(new Row(CACHE, Direction.CLIENT, i + 1, "ch-" + (i + 1), "publish", topics[i][0], topics[i][1]));
            sum += topics[i][0];
        }
        // a server row of the same endpoint: topics are the client's, it must not show up
        rows.add(new Row(CACHE, Direction.SERVER, 0, TopicMaps.OTHER_NAME, "", 7, 0));
        endpointRetrans = sum;
    }

    private static long[] v(long retrans, long bytes) {
        return new long[] {retrans, bytes};
    }

    /** topic label to {retrans, bytes}, of endpoint cache. */
    private static Map<String, long[]> series(MetricSnapshots snaps) {
        Map<String, long[]> out = new HashMap<>();
        for (MetricSnapshot m : snaps) {
            if (m instanceof CounterSnapshot c) {
                int i = c.getMetadata().getName().equals(TopicCounters.RETRANS) ? 0 : 1;
                for (var d : c.getDataPoints()) {
                    assertThat(d.getLabels().get("endpoint")).isEqualTo("cache");
                    assertThat(d.getLabels().get("bus")).isEqualTo("redis");
                    out.computeIfAbsent(d.getLabels().get("topic"), t -> new long[2])[i] = (long) d.getValue();
                }
            }
        }
        return out;
    }

    private static double reconcile(MetricSnapshots snaps) {
        for (MetricSnapshot m : snaps) {
            if (m instanceof GaugeSnapshot g && g.getMetadata().getName().equals(TopicCounters.RECONCILE)) {
                return g.getDataPoints().getFirst().getValue();
            }
        }
        throw new AssertionError("no reconcile gauge");
    }

    private static long sum(Map<String, long[]> s, int i) {
        return s.values().stream().mapToLong(x -> x[i]).sum();
    }

    @Test
    void theWorstTopicsGetSeriesTheRestAddUpInOther() {
        TopicCounters c = new TopicCounters(source, 2);
        kernel(v(1, 100), v(5, 10), v(3, 10), v(0, 999));
        MetricSnapshots s = c.collect();
        Map<String, long[]> got = series(s);
        assertThat(got.keySet()).containsExactlyInAnyOrder("ch-1", "ch-2", "other");
        assertThat(got.get("ch-1")).containsExactly(5, 10);
        assertThat(got.get("other")).containsExactly(1, 1099);
        assertThat(sum(got, 0)).isEqualTo(9);
        assertThat(reconcile(s)).isZero();
    }

    @Test
    void aTopicThatOvertakesStartsFromWhatOtherShowedAndNoSeriesShrinks() {
        TopicCounters c = new TopicCounters(source, 2);
        kernel(v(0, 0), v(5, 10), v(3, 10), v(2, 10));
        Map<String, long[]> first = series(c.collect());
        assertThat(first.keySet()).containsExactlyInAnyOrder("ch-1", "ch-2", "other");
        assertThat(first.get("other")[0]).isEqualTo(2);

        // ch-3 loses 6 more and overtakes ch-2
        kernel(v(0, 0), v(5, 10), v(3, 10), v(8, 20));
        Map<String, long[]> second = series(c.collect());
        assertThat(second.keySet()).containsExactlyInAnyOrder("ch-1", "ch-3", "other");
        assertThat(second.get("ch-3")).as("what other had shown of it stays there").containsExactly(6, 10);
        assertThat(second.get("other")).as("ch-2's 3 joined other's 2").containsExactly(5, 20);
        assertThat(sum(second, 0)).isEqualTo(16);
        for (var e : first.entrySet()) {
            if (second.containsKey(e.getKey())) {
                assertThat(second.get(e.getKey())[0]).isGreaterThanOrEqualTo(e.getValue()[0]);
                assertThat(second.get(e.getKey())[1]).isGreaterThanOrEqualTo(e.getValue()[1]);
            }
        }
    }

    @Test
    void aHundredThousandTopicsAreKPlusOneSeriesThatSumToTheKernels() {
        TopicCounters c = new TopicCounters(source, 50);
        long[][] topics = new long[100_000][];
        for (int i = 0; i < topics.length; i++) {
            topics[i] = v(i % 7, 400);
        }
        kernel(v(3, 0), topics);
        MetricSnapshots s = c.collect();
        Map<String, long[]> got = series(s);
        assertThat(got).hasSize(51);
        assertThat(sum(got, 0)).isEqualTo(endpointRetrans);
        assertThat(sum(got, 1)).isEqualTo(400L * topics.length);
        assertThat(reconcile(s)).isZero();
    }

    @Test
    void reconcileIsWhatTheEndpointCountedAndNoTopicTook() {
        TopicCounters c = new TopicCounters(source, 50);
        kernel(v(1, 0), v(4, 0));
        endpointRetrans += 2;
        assertThat(reconcile(c.collect())).isEqualTo(2);
        assertThat(TopicCounters.outside(10, 12, 11)).as("counted while the rows were read").isZero();
        assertThat(TopicCounters.outside(10, 12, 13)).isEqualTo(-1);
    }
}
