package io.busprobe.metrics;

import io.busprobe.agent.Session;
import io.busprobe.agent.SessionSource;
import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind.Family;
import io.busprobe.event.EventView;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.EnumSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real scrape of a real agent on the real kernel, with resets and lossy
 * traffic between two namespaces: {@code promtool check metrics} has nothing to
 * say about it, the kernel counters, the counters of a configured bus endpoint
 * (iperf3's port) and self-metrics move, program run statistics among them,
 * while kernel.bpf_stats_enabled is never written (statistics are held by a
 * BPF_ENABLE_STATS fd).
 */
@Privileged
class MetricsScrapeTest {
    private static double value(String exposition, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(exposition);
        assertThat(m.find()).as("series %s in scrape", series).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void realScrapeIsLintCleanAndCountsTheScenario() throws Exception {
        String sysctlBefore = Files.readString(BpfRunStats.SYSCTL).trim();
        String text;
        String openMetrics;
        try (NetnsPair net = NetnsPair.create();
             Session session = Session.start(EnumSet.allOf(Family.class), 8 << 20, null, false, EndpointConfig.of(
                     List.of(new Endpoint(1, "test-bus", BusType.OTHER, List.of(5201), List.of()))));
             AgentMetrics metrics = AgentMetrics.listen("127.0.0.1:0").attach(new SessionSource(session), TopicCounters.DEFAULT_TOP)) {
            assertThat(Files.readString(BpfRunStats.SYSCTL).trim()).as("bpf_stats_enabled while running")
                    .isEqualTo(sysctlBefore);
            EventView view = new EventView();
            var stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread consumer = Thread.ofPlatform().name("metrics-test-consumer").start(() ->
                    session.consume(stop::get, Long.MAX_VALUE, Session.DEFAULT_POLL_MS,
                            (d, off, len) -> metrics.onEvent(view.wrap(d, off).tsNanos()), (records, now) -> {
                            }));
            try {
                net.nft(net.server(), "add rule inet bp input tcp dport 7001 reject with tcp reset");
                net.nft(net.server(), "add rule inet bp input tcp dport 5201 numgen random mod 100 < 5 drop");
                net.exec(net.client(), 30, "python3", "-c", """
                        import socket
                        for _ in range(5):
                            try: socket.create_connection(("%s", 7001), timeout=5)
                            except ConnectionRefusedError: pass
                        """.formatted(net.serverIp()));
                net.start(net.server(), "iperf3", "-s", "-1", "-B", net.serverIp());
                net.awaitListening(5201);
                net.exec(net.client(), 60, "iperf3", "-c", net.serverIp(), "-t", "2", "--connect-timeout", "5000");
                // under 5 % loss a FIN can need a retransmit or two: wait until both iperf3
                // connections have closed on both sides instead of guessing a delay
                for (int i = 0; i < 100; i++) {
                    var maps = session.bpf().endpointMaps();
                    if (maps.totals(1, Direction.CLIENT).connClosed() >= 2
                            && maps.totals(1, Direction.SERVER).connClosed() >= 2) {
                        break;
                    }
                    Thread.sleep(100);
                }
                Thread.sleep(200);
            } finally {
                stop.set(true);
                consumer.join(10_000);
            }
            String url = "http://127.0.0.1:" + metrics.port() + "/metrics";
            text = Tools.get(url, null).body();
            openMetrics = Tools.get(url, "application/openmetrics-text; version=1.0.0").body();
        }
        assertThat(Files.readString(BpfRunStats.SYSCTL).trim()).as("bpf_stats_enabled after close")
                .isEqualTo(sysctlBefore);

        assertThat(Tools.lintMetrics(text)).as("promtool check metrics on a real scrape").isEmpty();
        assertThat(openMetrics).endsWith("# EOF\n");

        assertThat(value(text, "busprobe_tcp_resets_total{kind=\"reset_received\"}")).isGreaterThanOrEqualTo(5);
        // nftables' "reject with tcp reset" is not the TCP stack's tcp_send_reset: only the receiving side counts
        assertThat(value(text, "busprobe_tcp_retransmitted_segments_total{kind=\"retransmit\"}")).isPositive();
        assertThat(value(text, "busprobe_tcp_retransmitted_skbs_total{kind=\"retransmit\"}")).isPositive();
        assertThat(value(text, "busprobe_tcp_state_transitions_total")).isGreaterThan(10);
        assertThat(value(text, "busprobe_records_read_total")).isPositive();
        assertThat(value(text, "busprobe_delivery_latency_seconds_count"))
                .isEqualTo(value(text, "busprobe_records_read_total"));
        assertThat(value(text, "busprobe_bpf_stats_enabled")).isEqualTo(1);
        assertThat(value(text, "busprobe_bpf_program_runs_total{program=\"handle_inet_sock_set_state\"}"))
                .isGreaterThan(10);
        assertThat(value(text, "busprobe_bpf_program_run_seconds_total{program=\"handle_inet_sock_set_state\"}"))
                .isPositive();
        assertThat(value(text, "busprobe_probe_attached{program=\"handle_tcp_retransmit_skb\"}")).isEqualTo(1);
        assertThat(value(text, "busprobe_ring_size_bytes")).isEqualTo(8 << 20);

        // iperf3 (control and data connection) on the configured endpoint, seen from both namespaces
        String client = "{bus=\"other\",direction=\"client\",endpoint=\"test-bus\"}";
        String server = "{bus=\"other\",direction=\"server\",endpoint=\"test-bus\"}";
        // a run of the state program the kernel skipped loses a close, or an open no refresh saw
        // (README, "What exact means"): said with a missing one, so that its failure tells which
        Matcher skips = Pattern.compile("(?m)^busprobe_bpf_program_recursion_misses_total"
                + "\\{program=\"handle_inet_sock_set_state\"\\} (\\S+)$").matcher(text);
        String skipped = "state program runs skipped: " + (skips.find() ? skips.group(1) : "not in the scrape");
        System.out.println("MetricsScrapeTest: " + skipped);
        for (String side : new String[] {client, server}) {
            assertThat(value(text, "busprobe_endpoint_connections_opened_total" + side)).as("%s, %s", side, skipped)
                    .isGreaterThanOrEqualTo(2);
            assertThat(value(text, "busprobe_endpoint_connections_closed_total" + side)).as("%s, %s", side, skipped)
                    .isGreaterThanOrEqualTo(2);
            assertThat(value(text, "busprobe_endpoint_connection_lifetime_seconds_count" + side)).as("%s, %s", side, skipped)
                    .isGreaterThanOrEqualTo(2);
            assertThat(value(text, "busprobe_endpoint_segments_sent_total" + side)).as(side).isPositive();
        }
        // the client sends, the server drops 5 % of what arrives: the client retransmits
        double retrans = value(text, "busprobe_endpoint_retransmitted_segments_total" + client);
        assertThat(retrans).isPositive()
                .isLessThan(value(text, "busprobe_endpoint_segments_sent_total" + client));
        assertThat(value(text, "busprobe_endpoint_sent_bytes_total" + client))
                .isGreaterThan(value(text, "busprobe_endpoint_received_bytes_total" + client));
        // the refused connections to 7001 match no endpoint
        String other = "{bus=\"none\",direction=\"none\",endpoint=\"other\"}";
        assertThat(value(text, "busprobe_endpoint_connections_failed_total" + other)).isGreaterThanOrEqualTo(5);
        assertThat(value(text, "busprobe_endpoint_resets_received_total" + other)).isGreaterThanOrEqualTo(5);
    }
}
