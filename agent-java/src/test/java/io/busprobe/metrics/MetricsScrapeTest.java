package io.busprobe.metrics;

import io.busprobe.agent.Session;
import io.busprobe.event.EventKind.Family;
import io.busprobe.event.EventView;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.EnumSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real scrape of a real agent on the real kernel, with resets and lossy
 * traffic between two namespaces: {@code promtool check metrics} has nothing to
 * say about it, the kernel counters and self-metrics move, and
 * kernel.bpf_stats_enabled is on while the metrics run and restored after.
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
             Session session = Session.start(EnumSet.allOf(Family.class), 8 << 20);
             AgentMetrics metrics = AgentMetrics.start("127.0.0.1:0", session)) {
            assertThat(Files.readString(BpfRunStats.SYSCTL).trim()).as("bpf_stats_enabled while running")
                    .isEqualTo("1");
            EventView view = new EventView();
            var stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread consumer = Thread.ofPlatform().name("metrics-test-consumer").start(() ->
                    session.consumeUntil(stop::get, (d, off, len) -> metrics.onEvent(view.wrap(d, off).tsNanos()),
                            Session.DEFAULT_POLL_MS));
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
                Thread.sleep(300);
                net.exec(net.client(), 60, "iperf3", "-c", net.serverIp(), "-t", "2", "--connect-timeout", "5000");
                Thread.sleep(200);
            } finally {
                stop.set(true);
                consumer.join(10_000);
            }
            String url = "http://127.0.0.1:" + metrics.port() + "/metrics";
            text = Tools.get(url, null).body();
            openMetrics = Tools.get(url, "application/openmetrics-text; version=1.0.0").body();
        }
        assertThat(Files.readString(BpfRunStats.SYSCTL).trim()).as("bpf_stats_enabled restored on close")
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
    }
}
