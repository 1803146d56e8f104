package io.busprobe.metrics;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * End to end: Debian's Prometheus on loopback with deploy/prometheus/'s scrape
 * config and rules scrapes {@code busprobe run} in its own JVM while two
 * namespaces exchange lossy traffic (on a configured bus endpoint, so that its
 * client and server series exist) and refused connections; then every query
 * of every dashboard panel and every template variable, as Grafana would send
 * them for this agent, goes through Prometheus's HTTP API and must return at
 * least one series, every value finite and non-negative. An empty answer fails.
 */
@Privileged
class DashboardQueriesE2ETest {
    private static final String RATE_INTERVAL = "30s";
    /** The bus endpoint the loss scenario's iperf3 traffic is attributed to. */
    private static final String ENDPOINT = "test-bus";

    /** Pins, and with them the lock, of this test's own: never a real daemon's /sys/fs/bpf/busprobe. */
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-e2e-" + ProcessHandle.current().pid()));
    private Path work;
    private Process agent;
    private Process prometheus;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @BeforeEach
    void createWork() throws IOException {
        work = Files.createTempDirectory("busprobe-e2e");
    }

    @AfterEach
    void stopAll() throws Exception {
        Sh.stop(prometheus);
        if (agent != null) {
            Sh.run("kill", "-TERM", Long.toString(agent.pid()));
            assertThat(agent.waitFor(30, TimeUnit.SECONDS)).as("agent exits on SIGTERM").isTrue();
        }
        Sh.exec(30, "rm", "-rf", work.toString());
        busprobe.removePins();
    }

    private Process startAgent(int port) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path config = Files.writeString(work.resolve("endpoints.yaml"), """
                endpoints:
                  - name: %s
                    bus: other
                    ports: [5201]
                """.formatted(ENDPOINT));
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "io.busprobe.cli.Main", "run",
                "--metrics-address", "127.0.0.1:" + port, "--summary-interval", "1h", "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(work.resolve("agent.log").toFile());
        pb.environment().put("BUSPROBE_PIN_DIR", busprobe.pinDir().toString());
        return pb.start();
    }

    /** deploy/prometheus/ copied, pointed at this test's agent, scraping every second. */
    private Path prometheusConfig(int agentPort) throws IOException {
        Path deploy = Tools.ROOT.resolve("deploy/prometheus");
        Path cfgDir = Files.createDirectories(work.resolve("prometheus"));
        Files.createDirectories(cfgDir.resolve("rules"));
        Files.copy(deploy.resolve("rules/busprobe.rules.yml"), cfgDir.resolve("rules/busprobe.rules.yml"));
        String cfg = Files.readString(deploy.resolve("prometheus.yml"));
        assertThat(cfg).contains("localhost:19477", "scrape_interval: 15s", "evaluation_interval: 15s");
        cfg = cfg.replace("localhost:19477", "127.0.0.1:" + agentPort)
                .replace("scrape_interval: 15s", "scrape_interval: 1s")
                .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
        Path file = cfgDir.resolve("prometheus.yml");
        Files.writeString(file, cfg);
        return file;
    }

    private String api(int promPort, String path, String query) throws IOException {
        String url = "http://127.0.0.1:" + promPort + path
                + (query == null ? "" : "?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8));
        Tools.Response r = Tools.get(url, null);
        assertThat(r.status()).as("%s %s -> %s", path, query, r.body()).isEqualTo(200);
        return r.body();
    }

    @SuppressWarnings("unchecked")
    private List<Double> instantValues(int promPort, String query) throws IOException {
        Map<String, Object> data = (Map<String, Object>) UnitJson.object(api(promPort, "/api/v1/query", query))
                .get("data");
        List<Double> values = new ArrayList<>();
        if ("scalar".equals(data.get("resultType"))) {
            values.add(Double.parseDouble((String) ((List<Object>) data.get("result")).get(1)));
            return values;
        }
        for (Object series : (List<Object>) data.get("result")) {
            List<Object> v = (List<Object>) ((Map<String, Object>) series).get("value");
            values.add(Double.parseDouble((String) v.get(1)));
        }
        return values;
    }

    @Test
    void everyDashboardQueryReturnsSaneSeriesFromALiveAgent() throws Exception {
        String promtool = Tools.require("prometheus");
        int agentPort = freePort();
        int promPort = freePort();
        String instance = "127.0.0.1:" + agentPort;
        try (NetnsPair net = NetnsPair.create()) {
            agent = startAgent(agentPort);
            prometheus = new ProcessBuilder(promtool, "--config.file=" + prometheusConfig(agentPort),
                    "--storage.tsdb.path=" + work.resolve("data"), "--web.listen-address=127.0.0.1:" + promPort)
                    .redirectErrorStream(true).redirectOutput(work.resolve("prometheus.log").toFile()).start();
            waitForTargetUp(promPort, instance);
            // the metrics port answers before the programs are loaded and attached (loading can take
            // seconds on a busy host): the scenario starts only once the agent says it is counting
            awaitAgentStarted();

            // the loss scenario: 5 % of the server's incoming segments dropped under iperf3, and refused connections
            net.nft(net.server(), "add rule inet bp input tcp dport 5201 numgen random mod 100 < 5 drop");
            net.nft(net.server(), "add rule inet bp input tcp dport 7001 reject with tcp reset");
            net.start(net.server(), "iperf3", "-s", "-1", "-B", net.serverIp());
            net.awaitListening(5201);
            net.exec(net.client(), 60, "iperf3", "-c", net.serverIp(), "-t", "6", "--connect-timeout", "5000");
            net.exec(net.client(), 30, "python3", "-c", """
                    import socket, time
                    for _ in range(20):
                        try: socket.create_connection(("%s", 7001), timeout=5)
                        except ConnectionRefusedError: pass
                        time.sleep(0.1)
                    """.formatted(net.serverIp()));
            Thread.sleep(3000); // a few more scrapes after the traffic
        }
        assertThat(agent.isAlive()).as("agent still running; log: %s", Files.readString(work.resolve("agent.log")))
                .isTrue();

        // the scenario is visible at all
        assertThat(instantValues(promPort, "sum(increase(busprobe_tcp_retransmitted_segments_total{instance=\""
                + instance + "\"}[2m]))")).singleElement().asInstanceOf(
                org.assertj.core.api.InstanceOfAssertFactories.DOUBLE).isPositive();
        // ... on the configured endpoint, from both ends: iperf3's client sends and retransmits, its server serves
        String onEndpoint = "{instance=\"" + instance + "\", endpoint=\"" + ENDPOINT + "\", bus=\"other\"";
        for (String direction : new String[] {"client", "server"}) {
            assertThat(instantValues(promPort, "sum(increase(busprobe_endpoint_segments_sent_total" + onEndpoint
                    + ", direction=\"" + direction + "\"}[2m]))")).as(direction).singleElement()
                    .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.DOUBLE).isPositive();
        }
        assertThat(instantValues(promPort, "sum(increase(busprobe_endpoint_retransmitted_segments_total" + onEndpoint
                + ", direction=\"client\"}[2m]))")).singleElement()
                .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.DOUBLE).isPositive();

        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (Path f : Dashboards.files()) {
            for (Map<String, Object> var : Dashboards.variables(f)) {
                String def = (String) var.get("definition");
                if (def == null) {
                    continue; // the datasource variable
                }
                Matcher m = Pattern.compile("label_values\\((.*), *(\\w+)\\)").matcher(def);
                assertThat(m.matches()).as("variable query %s", def).isTrue();
                String match = Dashboards.substitute(m.group(1), "busprobe", instance, RATE_INTERVAL, "5m");
                String body = api(promPort, "/api/v1/label/" + m.group(2) + "/values?match[]="
                        + URLEncoder.encode(match, StandardCharsets.UTF_8), null);
                String expected = switch (m.group(2)) {
                    case "job" -> "busprobe";
                    case "endpoint" -> ENDPOINT;
                    default -> instance;
                };
                if (!body.contains("\"" + expected + "\"")) {
                    failures.add(f.getFileName() + " variable " + var.get("name") + ": " + def + " -> " + body);
                }
                checked++;
            }
            for (Dashboards.Panel p : Dashboards.panels(f)) {
                for (String expr : p.queries()) {
                    String q = Dashboards.substitute(expr, "busprobe", instance, RATE_INTERVAL, "5m");
                    List<Double> values = instantValues(promPort, q);
                    if (values.isEmpty()) {
                        failures.add(f.getFileName() + " / " + p.title() + ": no series for " + q);
                    } else if (values.stream().anyMatch(v -> v.isNaN() || v.isInfinite() || v < 0)) {
                        failures.add(f.getFileName() + " / " + p.title() + ": " + values + " for " + q);
                    }
                    checked++;
                }
            }
        }
        assertThat(failures).as("dashboard queries against a live agent (%d checked)", checked).isEmpty();
        assertThat(checked).isGreaterThan(60);

        // the alerting rules loaded, and every busprobe metric they use exists in this Prometheus
        String rules = api(promPort, "/api/v1/rules", null);
        assertThat(rules).contains("BusprobeAgentDown", "BusprobeEndpointRetransmitRatioHigh",
                "BusprobeRecordsDropped", "BusprobeDegradationActive", "BusprobeNamespacesUncounted");
        String names = api(promPort, "/api/v1/label/__name__/values", null);
        Matcher m = Pattern.compile("busprobe_[a-z_]+").matcher(
                Files.readString(Tools.ROOT.resolve("deploy/prometheus/rules/busprobe.rules.yml")));
        while (m.find()) {
            assertThat(names).as("metric used by the alert rules").contains("\"" + m.group() + "\"");
        }
    }

    private void awaitAgentStarted() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.readString(work.resolve("agent.log")).contains("busprobe: started")) {
            assertThat(agent.isAlive()).as("agent exited: %s", Files.readString(work.resolve("agent.log"))).isTrue();
            assertThat(System.nanoTime()).as("agent never started: %s", Files.readString(work.resolve("agent.log")))
                    .isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private void waitForTargetUp(int promPort, String instance) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                last = api(promPort, "/api/v1/query", "up{instance=\"" + instance + "\"} == 1");
                if (last.contains("\"" + instance + "\"")) {
                    return;
                }
            } catch (IOException | AssertionError e) {
                last = e.toString();
            }
            Thread.sleep(500);
        }
        throw new AssertionError("Prometheus never scraped the agent: " + last + "\nagent: "
                + Files.readString(work.resolve("agent.log")) + "\nprometheus: "
                + Files.readString(work.resolve("prometheus.log")));
    }
}
