package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
import io.busprobe.bindings.Native;
import io.busprobe.maps.RetransStats;
import io.busprobe.event.RetransKind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The exporter over a fixed source, no kernel: names, labels, values, both
 * exposition formats, a clean {@code promtool check metrics}, and an
 * allocation-free per-event hook.
 */
class AgentMetricsTest {
    private final Map<EventKind, KindStats> stats = new EnumMap<>(EventKind.class);
    private final List<EndpointMaps.Name> names = new ArrayList<>();
    private final Map<String, EndpointMaps.Totals> totals = new HashMap<>();
    private final Map<EventKind, EffectiveSampling> sampling = new EnumMap<>(EventKind.class);
    private final RetransStats[] triggers = new RetransStats[RetransKind.COUNT];
    private AgentMetrics metrics;

    private static EndpointMaps.Totals traffic(long base, long[] lifetimes) {
        // base + 8 retransmitted segments: 1 rto, 2 fast, the rest synack
        return new EndpointMaps.Totals(base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8,
                base + 9, base + 10, base + 11, lifetimes, new long[] {0, 1, 2, 0, 0, base + 5});
    }

    private static long[] slots(int... countsBySlot) { // pairs: slot, count
        long[] s = new long[EndpointMaps.LIFETIME_SLOTS];
        for (int i = 0; i < countsBySlot.length; i += 2) {
            s[countsBySlot[i]] = countsBySlot[i + 1];
        }
        return s;
    }

    private void names(String... idNameBus) { // triples: id, name, bus id
        names.clear();
        for (int id = 0; id < EndpointMaps.MAX_ENDPOINTS; id++) {
            names.add(new EndpointMaps.Name(id, "", 0));
        }
        for (int i = 0; i < idNameBus.length; i += 3) {
            int id = Integer.parseInt(idNameBus[i]);
            names.set(id, new EndpointMaps.Name(id, idNameBus[i + 1], Integer.parseInt(idNameBus[i + 2])));
        }
    }

    private final MetricsSource source = new MetricsSource() {
        @Override
        public Map<EventKind, KindStats> kindStats() {
            return stats;
        }

        @Override
        public boolean attached(Probe p) {
            return p != Probe.SOCK_EXCEED_BUF_LIMIT;
        }

        @Override
        public EffectiveSampling sampling(EventKind k) {
            return sampling.get(k);
        }

        @Override
        public ProgramRunStats programStats(Probe p) {
            return new ProgramRunStats(p.ordinal() * 10L, p.ordinal() * 1_500_000L, 0);
        }

        @Override
        public long ringSizeBytes() {
            return 8 << 20;
        }

        @Override
        public long ringPendingBytes() {
            return 4096;
        }

        @Override
        public long recordsRead() {
            return 123;
        }

        @Override
        public long recordsDiscarded() {
            return 0;
        }

        @Override
        public List<EndpointMaps.Name> endpointNames() {
            return List.copyOf(names);
        }

        @Override
        public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
            return totals.getOrDefault(endpoint + "/" + direction,
                    new EndpointMaps.Totals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new long[EndpointMaps.LIFETIME_SLOTS],
                            new long[EndpointMaps.RETRANS_KINDS]));
        }

        @Override
        public RetransStats retransStats(int trigger) {
            return triggers[trigger];
        }
    };

    @BeforeEach
    void start() {
        for (EventKind k : EventKind.values()) {
            stats.put(k, KindStats.ZERO);
            // what a fresh daemon's maps say: every kind on, 1-in-1; exceed_buf_limit's probe is not attached
            sampling.put(k, EffectiveSampling.of(SampleSetting.DEFAULT, 1, Settings.defaults(8 << 20),
                    k != EventKind.EXCEED_BUF_LIMIT));
        }
        stats.put(EventKind.RETRANSMIT, new KindStats(10, 2, 1, 6, 1, 14));
        stats.put(EventKind.RESET_RECEIVED, new KindStats(5, 0, 0, 5, 0, 0));
        stats.put(EventKind.STATE, new KindStats(80, 0, 0, 80, 0, 0));
        stats.put(EventKind.RETRANSMIT_FAILED, new KindStats(3, 0, 0, 3, 0, 7));
        Arrays.fill(triggers, RetransStats.ZERO);
        triggers[Native.BP_RETRANS_FAST()] = new RetransStats(9, 2);
        triggers[Native.BP_RETRANS_RTO()] = new RetransStats(5, 0);
        names("0", "other", "0", "1", "orders", Integer.toString(BusType.KAFKA.id()), "5", "cache",
                Integer.toString(BusType.REDIS.id()));
        totals.put("0/NONE", traffic(1000, slots(3, 2)));
        totals.put("1/CLIENT", traffic(100, slots(0, 1, 10, 3, 31, 2)));
        totals.put("5/SERVER", traffic(500, slots()));
        metrics = MetricsServers.start("127.0.0.1:0", source, false,
                new PrintWriter(new StringWriter()));
    }

    @AfterEach
    void stop() {
        metrics.close();
    }

    private String scrape(String accept) throws Exception {
        Tools.Response r = Tools.get("http://127.0.0.1:" + metrics.port() + "/metrics", accept);
        assertThat(r.status()).isEqualTo(200);
        return r.body();
    }

    private static double value(String exposition, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(exposition);
        assertThat(m.find()).as("series %s in scrape", series).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void kernelCountersAreExportedByKindWithPrometheusNames() throws Exception {
        String text = scrape(null);
        assertThat(value(text, "busprobe_tcp_retransmitted_skbs_total{kind=\"retransmit\"}")).isEqualTo(10);
        assertThat(value(text, "busprobe_tcp_retransmitted_segments_total{kind=\"retransmit\"}")).isEqualTo(14);
        assertThat(value(text, "busprobe_tcp_resets_total{kind=\"reset_received\"}")).isEqualTo(5);
        assertThat(value(text, "busprobe_tcp_resets_total{kind=\"reset_sent\"}")).isZero();
        assertThat(value(text, "busprobe_tcp_state_transitions_total")).isEqualTo(80);
        assertThat(value(text, "busprobe_socket_pressure_events_total{kind=\"rcvqueue_full\"}")).isZero();
        assertThat(value(text, "busprobe_events_total{kind=\"retransmit\"}")).isEqualTo(10);
        assertThat(value(text, "busprobe_records_submitted_total{kind=\"retransmit\"}")).isEqualTo(6);
        assertThat(value(text, "busprobe_records_dropped_total{kind=\"retransmit\"}")).isEqualTo(1);
        assertThat(value(text, "busprobe_records_sampled_out_total{kind=\"retransmit\"}")).isEqualTo(2);
        assertThat(value(text, "busprobe_records_rate_limited_total{kind=\"retransmit\"}")).isEqualTo(1);
        for (EventKind k : EventKind.values()) {
            assertThat(text).contains("busprobe_events_total{kind=\"" + k.label() + "\"}");
        }
    }

    @Test
    void attemptsTheKernelDidNotCountStayOutOfTheRetransmittedFamilies() throws Exception {
        String text = scrape(null);
        // the retransmitted families add up to TcpRetransSegs: counted kinds only
        assertThat(text).doesNotContain("busprobe_tcp_retransmitted_segments_total{kind=\"retransmit_failed\"}")
                .doesNotContain("busprobe_tcp_retransmitted_skbs_total{kind=\"retransmit_failed\"}");
        assertThat(value(text, "busprobe_tcp_retransmit_failures_total")).isEqualTo(3);
        assertThat(value(text, "busprobe_tcp_retransmit_failure_segments_total")).isEqualTo(7);
        assertThat(value(text, "busprobe_events_total{kind=\"retransmit_failed\"}")).isEqualTo(3);
    }

    @Test
    void retransmittedSegmentsByTrigger() throws Exception {
        String text = scrape(null);
        assertThat(value(text, "busprobe_tcp_retransmit_trigger_segments_total{trigger=\"fast\"}")).isEqualTo(9);
        assertThat(value(text, "busprobe_tcp_retransmit_unsent_segments_total{trigger=\"fast\"}")).isEqualTo(2);
        assertThat(value(text, "busprobe_tcp_retransmit_trigger_segments_total{trigger=\"rto\"}")).isEqualTo(5);
        for (int t = 0; t < RetransKind.COUNT; t++) {
            assertThat(text).contains("busprobe_tcp_retransmit_trigger_segments_total{trigger=\""
                    + RetransKind.name(t) + "\"}");
        }
        String orders = "{bus=\"kafka\",direction=\"client\",endpoint=\"orders\",trigger=";
        assertThat(value(text, "busprobe_endpoint_retransmit_trigger_segments_total" + orders + "\"fast\"}"))
                .isEqualTo(2);
        assertThat(value(text, "busprobe_endpoint_retransmit_trigger_segments_total" + orders + "\"synack\"}"))
                .isEqualTo(105);
        // 5 endpoint series (see above) times every trigger
        assertThat(text.lines().filter(l -> l.startsWith("busprobe_endpoint_retransmit_trigger_segments_total{")))
                .hasSize(5 * RetransKind.COUNT);
    }

    @Test
    void endpointCountersByEndpointBusAndDirection() throws Exception {
        String text = scrape(null);
        String orders = "{bus=\"kafka\",direction=\"client\",endpoint=\"orders\"}";
        assertThat(value(text, "busprobe_endpoint_connections_opened_total" + orders)).isEqualTo(101);
        assertThat(value(text, "busprobe_endpoint_connections_closed_total" + orders)).isEqualTo(102);
        assertThat(value(text, "busprobe_endpoint_connections_failed_total" + orders)).isEqualTo(103);
        assertThat(value(text, "busprobe_endpoint_sent_bytes_total" + orders)).isEqualTo(104);
        assertThat(value(text, "busprobe_endpoint_received_bytes_total" + orders)).isEqualTo(105);
        assertThat(value(text, "busprobe_endpoint_segments_sent_total" + orders)).isEqualTo(106);
        assertThat(value(text, "busprobe_endpoint_segments_received_total" + orders)).isEqualTo(107);
        assertThat(value(text, "busprobe_endpoint_retransmitted_segments_total" + orders)).isEqualTo(108);
        assertThat(value(text, "busprobe_endpoint_resets_sent_total" + orders)).isEqualTo(109);
        assertThat(value(text, "busprobe_endpoint_resets_received_total" + orders)).isEqualTo(110);
        assertThat(value(text, "busprobe_endpoint_socket_pressure_events_total" + orders)).isEqualTo(111);
        // both directions of a configured endpoint, zeros included; "other" only as none
        assertThat(value(text, "busprobe_endpoint_segments_sent_total"
                + "{bus=\"kafka\",direction=\"server\",endpoint=\"orders\"}")).isZero();
        assertThat(value(text, "busprobe_endpoint_segments_sent_total"
                + "{bus=\"redis\",direction=\"server\",endpoint=\"cache\"}")).isEqualTo(506);
        assertThat(value(text, "busprobe_endpoint_segments_sent_total"
                + "{bus=\"none\",direction=\"none\",endpoint=\"other\"}")).isEqualTo(1006);
        assertThat(text).doesNotContain("direction=\"client\",endpoint=\"other\"")
                .doesNotContain("direction=\"none\",endpoint=\"orders\"");
        // unnamed ids export nothing: 1 + 2 + 2 series per family
        assertThat(text.lines().filter(l -> l.startsWith("busprobe_endpoint_retransmitted_segments_total{")))
                .hasSize(5);
    }

    @Test
    void connectionLifetimeIsAHistogramOfTheKernelSlotsInSeconds() throws Exception {
        String text = scrape(null);
        String lifetime = "busprobe_endpoint_connection_lifetime_seconds";
        String orders = "bus=\"kafka\",direction=\"client\",endpoint=\"orders\"";
        // slot 0 is [0, 2) us; slot 10 is [1024, 2048) us; slot 31 is 2^31 us and longer
        assertThat(value(text, lifetime + "_bucket{" + orders + ",le=\"2.0E-6\"}")).isEqualTo(1);
        assertThat(value(text, lifetime + "_bucket{" + orders + ",le=\"0.001024\"}")).isEqualTo(1);
        assertThat(value(text, lifetime + "_bucket{" + orders + ",le=\"0.002048\"}")).isEqualTo(4);
        assertThat(value(text, lifetime + "_bucket{" + orders + ",le=\"2147.483648\"}")).isEqualTo(4);
        assertThat(value(text, lifetime + "_bucket{" + orders + ",le=\"+Inf\"}")).isEqualTo(6);
        assertThat(value(text, lifetime + "_count{" + orders + "}")).isEqualTo(6);
        assertThat(text).doesNotContain(lifetime + "_sum");
        assertThat(text.lines().filter(l -> l.startsWith(lifetime + "_bucket{" + orders))).hasSize(32);
        assertThat(EndpointCounters.LIFETIME_BOUNDS).hasSize(EndpointMaps.LIFETIME_SLOTS)
                .startsWith(2e-6, 4e-6, 8e-6).endsWith(1073.741824, 2147.483648, Double.POSITIVE_INFINITY);
    }

    @Test
    void anIdGivenToAnotherEndpointStartsFromZero() throws Exception {
        scrape(null);
        // a reload moved id 1 to another endpoint; the kernel's counters under it carry on
        names("0", "other", "0", "1", "payments", Integer.toString(BusType.AMQP.id()));
        String payments = "{bus=\"amqp\",direction=\"client\",endpoint=\"payments\"}";
        String text = scrape(null);
        assertThat(value(text, "busprobe_endpoint_segments_sent_total" + payments)).isZero();
        assertThat(value(text, "busprobe_endpoint_connection_lifetime_seconds_count" + payments)).isZero();
        assertThat(text).doesNotContain("endpoint=\"orders\"").doesNotContain("endpoint=\"cache\"");
        totals.put("1/CLIENT", traffic(120, slots(0, 1, 10, 4, 31, 2)));
        text = scrape(null);
        assertThat(value(text, "busprobe_endpoint_segments_sent_total" + payments)).isEqualTo(20);
        assertThat(value(text, "busprobe_endpoint_connection_lifetime_seconds_count" + payments)).isEqualTo(1);
        // the other ids keep their totals
        assertThat(value(text, "busprobe_endpoint_segments_sent_total"
                + "{bus=\"none\",direction=\"none\",endpoint=\"other\"}")).isEqualTo(1006);
    }

    @Test
    void selfMetricsProgramsRingBuildAndJvm() throws Exception {
        String text = scrape(null);
        assertThat(value(text, "busprobe_bpf_program_runs_total{program=\"handle_inet_sock_set_state\"}"))
                .isEqualTo(Probe.INET_SOCK_SET_STATE.ordinal() * 10);
        assertThat(value(text, "busprobe_bpf_program_run_seconds_total{program=\"handle_inet_sock_set_state\"}"))
                .isEqualTo(Probe.INET_SOCK_SET_STATE.ordinal() * 0.0015);
        assertThat(value(text, "busprobe_probe_attached{program=\"handle_sock_exceed_buf_limit\"}")).isZero();
        assertThat(text).doesNotContain("busprobe_bpf_program_runs_total{program=\"handle_sock_exceed_buf_limit\"}");
        assertThat(value(text, "busprobe_ring_size_bytes")).isEqualTo(8 << 20);
        assertThat(value(text, "busprobe_ring_pending_bytes")).isEqualTo(4096);
        assertThat(value(text, "busprobe_records_read_total")).isEqualTo(123);
        assertThat(value(text, "busprobe_bpf_stats_enabled")).isZero();
        assertThat(text).containsPattern("busprobe_build_info\\{java_version=\"[^\"]+\",version=\"[^\"]+\"} 1")
                .contains("jvm_memory_used_bytes{area=\"heap\"}", "process_cpu_seconds_total",
                        "jvm_gc_collection_seconds_count");
        // labels stay bounded: no pid, port or address anywhere in busprobe's own series
        assertThat(text.lines().filter(l -> l.startsWith("busprobe_")))
                .noneMatch(l -> l.matches(".*(pid|port|addr|saddr|daddr)=.*"));
    }

    @Test
    void degradationIsInactiveUntilAViewIsPluggedIn() throws Exception {
        assertThat(value(scrape(null), "busprobe_degradation_active")).isZero();
        metrics.degradation(() -> true);
        assertThat(value(scrape(null), "busprobe_degradation_active")).isEqualTo(1);
    }

    @Test
    void samplingRatioIsTheEffectiveSamplingReadAtEachScrape() throws Exception {
        String text = scrape(null);
        assertThat(value(text, "busprobe_sampling_ratio{kind=\"state\"}")).isEqualTo(1);
        assertThat(value(text, "busprobe_sampling_ratio{kind=\"exceed_buf_limit\"}")).as("not attached").isZero();

        Settings emit = Settings.defaults(8 << 20);
        // operator 1/2, automatic 1/4: the stricter wins
        sampling.put(EventKind.STATE, EffectiveSampling.of(SampleSetting.DEFAULT.withEvery(2), 4, emit, true));
        sampling.put(EventKind.RETRANSMIT, EffectiveSampling.of(SampleSetting.DEFAULT.withEnabled(false), 1, emit,
                true));
        sampling.put(EventKind.RESET_SENT, EffectiveSampling.of(SampleSetting.DEFAULT.withEvery(10), 1,
                new Settings(false, emit.wakeup(), emit.watermark()), true));
        text = scrape(null);
        assertThat(value(text, "busprobe_sampling_ratio{kind=\"state\"}")).isEqualTo(0.25);
        assertThat(value(text, "busprobe_sampling_ratio{kind=\"retransmit\"}")).as("off").isZero();
        assertThat(value(text, "busprobe_sampling_ratio{kind=\"reset_sent\"}")).as("emit off").isZero();
    }

    @Test
    void deliveryLatencyHistogramInSeconds() throws Exception {
        long now = System.nanoTime();
        metrics.onEvent(now - 1_200_000); // ~1.2 ms ago
        metrics.onEvent(now - 200_000_000); // ~200 ms ago
        String text = scrape(null);
        assertThat(value(text, "busprobe_delivery_latency_seconds_count")).isEqualTo(2);
        assertThat(value(text, "busprobe_delivery_latency_seconds_bucket{le=\"0.001\"}")).isZero();
        assertThat(value(text, "busprobe_delivery_latency_seconds_bucket{le=\"0.0015\"}")).isEqualTo(1);
        assertThat(value(text, "busprobe_delivery_latency_seconds_bucket{le=\"0.3\"}")).isEqualTo(2);
        assertThat(value(text, "busprobe_delivery_latency_seconds_sum")).isBetween(0.2, 0.5);
    }

    @Test
    void textFormatPassesPromtoolAndOpenMetricsIsServed() throws Exception {
        String text = scrape(null);
        assertThat(Tools.lintMetrics(text)).as("promtool check metrics").isEmpty();

        Tools.Response om = Tools.get("http://127.0.0.1:" + metrics.port() + "/metrics",
                "application/openmetrics-text; version=1.0.0; charset=utf-8");
        assertThat(om.contentType()).startsWith("application/openmetrics-text");
        assertThat(om.body()).contains("# TYPE busprobe_tcp_resets counter",
                "busprobe_tcp_resets_total{kind=\"reset_received\"} 5", "# UNIT busprobe_delivery_latency_seconds seconds",
                "# UNIT busprobe_endpoint_sent_bytes bytes", "# TYPE busprobe_endpoint_connection_lifetime_seconds histogram",
                "# UNIT busprobe_endpoint_connection_lifetime_seconds seconds")
                .endsWith("# EOF\n");
    }

    @Test
    void onEventDoesNotAllocate() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        long ts = System.nanoTime();
        for (int i = 0; i < 200_000; i++) { // warm up: JIT, adder cells
            metrics.onEvent(ts);
        }
        long before = threads.getThreadAllocatedBytes(tid);
        for (int i = 0; i < 1_000_000; i++) {
            metrics.onEvent(ts);
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - before;
        // a million events: anything per event would be megabytes; allow the probe's own noise
        assertThat(allocated).as("bytes allocated by 1M onEvent calls").isLessThan(64 * 1024);
    }

    @Test
    void busyPortIsOneLineNamingTheFix() {
        assertThatThrownBy(() -> MetricsServers.start("127.0.0.1:" + metrics.port(), source,
                false, new PrintWriter(new StringWriter())))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot serve metrics on 127.0.0.1:" + metrics.port())
                .hasMessageContaining("--metrics-address");
    }

    @Test
    void listenAddressForms() {
        assertThat(ListenAddress.parse("0.0.0.0:19477")).isEqualTo(new ListenAddress("0.0.0.0", 19477));
        assertThat(ListenAddress.parse(":19477")).isEqualTo(new ListenAddress("0.0.0.0", 19477));
        assertThat(ListenAddress.parse("[::1]:9")).isEqualTo(new ListenAddress("::1", 9));
        assertThat(ListenAddress.parse(AgentMetrics.DEFAULT_ADDRESS).port()).isEqualTo(19477);
        for (String bad : new String[] {"19477", "host:", "host:70000", "::1:80", "h:-1"}) {
            assertThatThrownBy(() -> ListenAddress.parse(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--metrics-address");
        }
    }
}
