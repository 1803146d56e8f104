package io.busprobe.metrics;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Grafana dashboards are well formed for provisioning and for operators:
 * unique uids, the datasource/job/instance variables, and on every panel a
 * description, a unit, the templated datasource and a query filtered by
 * job and instance (and by endpoint on the endpoint dashboard). Whether the queries return data is
 * {@link DashboardQueriesE2ETest}'s job.
 */
class DashboardLintTest {
    private static final Pattern BUSPROBE_METRIC = Pattern.compile("\\bbusprobe_[a-z_]+");

    @Test
    void fleetSelfHealthAndEndpointDashboardsExist() {
        assertThat(Dashboards.files()).extracting(p -> p.getFileName().toString())
                .contains("busprobe-overview.json", "busprobe-self.json", "busprobe-endpoints.json");
    }

    @Test
    void endpointDashboardFiltersEveryQueryByEndpoint() {
        Path f = Dashboards.DIR.resolve("busprobe-endpoints.json");
        assertThat(Dashboards.variables(f)).extracting(v -> v.get("name")).contains("endpoint");
        for (Dashboards.Panel p : Dashboards.panels(f)) {
            assertThat(p.queries()).as("queries of %s", p.title())
                    .allSatisfy(q -> assertThat(q).contains("endpoint=~\"$endpoint\""));
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void overviewLinksTheEndpointDashboard() {
        List<Map<String, Object>> links = (List<Map<String, Object>>) Dashboards.load(
                Dashboards.DIR.resolve("busprobe-overview.json")).get("links");
        assertThat(links).anySatisfy(l -> assertThat(l).containsEntry("url", "/d/busprobe-endpoints"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void everyPanelHasDescriptionUnitDatasourceAndAFilteredQuery() {
        Set<String> uids = new HashSet<>();
        for (Path f : Dashboards.files()) {
            Map<String, Object> d = Dashboards.load(f);
            assertThat(uids.add((String) d.get("uid"))).as("unique uid in %s", f).isTrue();
            assertThat((String) d.get("title")).as("title of %s", f).startsWith("busprobe / ");
            assertThat(Dashboards.variables(f)).extracting(v -> v.get("name"))
                    .as("template variables of %s", f).contains("datasource", "job", "instance");
            List<Dashboards.Panel> panels = Dashboards.panels(f);
            assertThat(panels).as("panels of %s", f).hasSizeGreaterThan(5);
            Set<Long> ids = new HashSet<>();
            for (Dashboards.Panel p : panels) {
                String where = f.getFileName() + " / " + p.title();
                assertThat(ids.add((Long) p.json().get("id"))).as("unique id: %s", where).isTrue();
                assertThat((String) p.json().get("description")).as("description: %s", where).isNotBlank();
                Map<String, Object> defaults = (Map<String, Object>) ((Map<String, Object>) p.json()
                        .get("fieldConfig")).get("defaults");
                assertThat((String) defaults.get("unit")).as("unit: %s", where).isNotBlank();
                assertThat((Map<String, Object>) p.json().get("datasource")).as("datasource: %s", where)
                        .containsEntry("uid", "${datasource}");
                assertThat(p.queries()).as("queries: %s", where).isNotEmpty().allSatisfy(q -> assertThat(q)
                        .as("query of %s", where).contains("instance=~\"$instance\"", "job=~\"$job\""));
            }
        }
    }

    @Test
    void everyBusprobeMetricInTheDashboardsIsOneTheAgentExports() throws Exception {
        // names as exposed: counters with _total, histograms with _bucket
        Set<String> exported = Set.of("busprobe_tcp_retransmitted_skbs_total",
                "busprobe_tcp_retransmitted_segments_total", "busprobe_tcp_resets_total",
                "busprobe_tcp_state_transitions_total", "busprobe_socket_pressure_events_total",
                "busprobe_events_total", "busprobe_records_submitted_total", "busprobe_records_dropped_total",
                "busprobe_records_sampled_out_total", "busprobe_records_rate_limited_total",
                "busprobe_records_read_total", "busprobe_records_discarded_total", "busprobe_probe_attached",
                "busprobe_bpf_program_runs_total", "busprobe_bpf_program_run_seconds_total",
                "busprobe_bpf_program_recursion_misses_total", "busprobe_bpf_stats_enabled",
                "busprobe_ring_size_bytes", "busprobe_ring_pending_bytes", "busprobe_delivery_latency_seconds_bucket",
                "busprobe_degradation_active", "busprobe_sampling_ratio", "busprobe_build_info",
                "busprobe_endpoint_connections_opened_total", "busprobe_endpoint_connections_closed_total",
                "busprobe_endpoint_connections_failed_total", "busprobe_endpoint_connection_lifetime_seconds_bucket",
                "busprobe_endpoint_sent_bytes_total", "busprobe_endpoint_received_bytes_total",
                "busprobe_endpoint_segments_sent_total", "busprobe_endpoint_segments_received_total",
                "busprobe_endpoint_retransmitted_segments_total", "busprobe_endpoint_resets_sent_total",
                "busprobe_endpoint_resets_received_total", "busprobe_endpoint_socket_pressure_events_total",
                "busprobe_packet_drops_total", "busprobe_tcp_listen_overflows_total",
                "busprobe_topic_retransmitted_segments_total",
                "busprobe_topic_sent_bytes_total", "busprobe_topic_reconcile_segments",
                "busprobe_topic_receive_queue_bytes", "busprobe_topic_zero_window_subscribers");
        for (Path f : Dashboards.files()) {
            for (Dashboards.Panel p : Dashboards.panels(f)) {
                for (String q : p.queries()) {
                    Matcher m = BUSPROBE_METRIC.matcher(q);
                    while (m.find()) {
                        assertThat(exported).as("metric in '%s' of %s", p.title(), f.getFileName())
                                .contains(m.group());
                    }
                }
            }
        }
    }
}
