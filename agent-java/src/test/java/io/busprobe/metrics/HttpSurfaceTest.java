package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The agent's one listening socket answers GET/HEAD on its documented paths and
 * nothing else, survives garbage and slow clients, and tells liveness from
 * readiness. No kernel: a listen-only server, then one with a stub source.
 */
class HttpSurfaceTest {
    private AgentMetrics metrics;

    @BeforeEach
    void listen() {
        metrics = AgentMetrics.listen("127.0.0.1:0");
    }

    @AfterEach
    void close() {
        metrics.close();
    }

    private String url(String path) {
        return "http://127.0.0.1:" + metrics.port() + path;
    }

    /** One raw request; the whole response as text (empty if the server closed without a word). */
    private String raw(String request) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", metrics.port()), 2000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
    void onlyGetAndHeadAreAnswered(String method) throws IOException {
        String response = raw(method + " /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        assertThat(response).startsWith("HTTP/1.1 405").containsIgnoringCase("Allow: GET, HEAD");
    }

    @ParameterizedTest
    @ValueSource(strings = {"/foo", "/metricsX", "/metrics/", "/metrics/../etc/passwd", "/-/", "/-/healthyX", "//metrics",
        "/%2e%2e/", "/.env"})
    void onlyTheDocumentedPathsExist(String path) throws IOException {
        assertThat(Tools.get(url(path), null).status()).as(path).isEqualTo(404);
    }

    @Test
    void documentedPathsAnswerGetAndHead() throws IOException {
        assertThat(Tools.get(url("/metrics"), null).body()).contains("busprobe_build_info");
        assertThat(Tools.get(url("/"), null).body()).contains("/metrics", "/-/healthy", "/-/ready");
        String head = raw("HEAD /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(head).startsWith("HTTP/1.1 200").doesNotContain("alive");
    }

    @Test
    void readinessWaitsForAttachedProbesAndARunningLoop() throws IOException {
        assertThat(Tools.get(url("/-/healthy"), null).status()).as("alive while starting").isEqualTo(200);
        assertThat(Tools.get(url("/-/ready"), null).status()).as("not ready before attach").isEqualTo(503);
        metrics.attach(new StubSource(), false, new PrintWriter(new StringWriter()));
        assertThat(Tools.get(url("/-/ready"), null).status()).as("attached, loop not running yet").isEqualTo(503);
        metrics.heartbeat(System.nanoTime());
        assertThat(Tools.get(url("/-/ready"), null).status()).isEqualTo(200);
        metrics.heartbeat(System.nanoTime() - AgentMetrics.STUCK_NANOS - 1);
        assertThat(Tools.get(url("/-/healthy"), null).status()).as("a wedged loop fails liveness").isEqualTo(503);
        assertThat(Tools.get(url("/-/ready"), null).status()).isEqualTo(503);
    }

    /**
     * Malformed requests: each gets a well-formed refusal or a closed connection,
     * never a hang; the ones that are no request at all never get a 2xx. (The JDK
     * server is lenient with some odd but harmless GETs, e.g. an unknown HTTP
     * version; those may be answered like any GET.) Then the server still serves.
     */
    @Test
    void garbageIsRefusedAndTheServerKeepsServing() throws IOException {
        byte[] noise = new byte[4096];
        new Random(42).nextBytes(noise);
        Map<String, Boolean> garbage = new java.util.LinkedHashMap<>(); // request -> must not be answered 2xx
        garbage.put("\r\n\r\n", true);
        garbage.put("GET\r\n\r\n", true);
        garbage.put("GET /metrics\r\n\r\n", true);
        garbage.put(new String(noise, StandardCharsets.ISO_8859_1), true);
        garbage.put("GET " + "/a".repeat(40_000) + " HTTP/1.1\r\n\r\n", true);
        garbage.put("GET /metrics HTTP/1.1\r\n" + "X-A: b\r\n".repeat(500) + "\r\n", true);
        garbage.put("GET /metrics HTTP/1.1\r\nX: " + "y".repeat(64 * 1024) + "\r\n\r\n", true);
        garbage.put("GET /metrics HTTP/9.9\r\n\r\n", false);
        garbage.put("GET /metrics HTTP/1.1\r\nHost x\r\nbad header line\r\n\r\n", false);
        garbage.put("GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", false);
        garbage.put("GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false);
        // all at once: a few of them are only closed by the server's request timeout
        Map<String, java.util.concurrent.Future<String>> answers = new java.util.LinkedHashMap<>();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (String request : garbage.keySet()) {
                answers.put(request, pool.submit(() -> statusLine(request)));
            }
        }
        for (Map.Entry<String, Boolean> g : garbage.entrySet()) {
            String status = answers.get(g.getKey()).resultNow();
            String what = g.getKey().substring(0, Math.min(40, g.getKey().length()));
            assertThat(status).as(what).matches("|HTTP/1\\.1 \\d{3}.*");
            if (g.getValue()) {
                assertThat(status).as(what).doesNotStartWith("HTTP/1.1 2");
            }
        }
        assertThat(Tools.get(url("/metrics"), null).status()).isEqualTo(200);
    }

    /** The status line of the answer to {@code request}, or "" when the server closed or reset. */
    private String statusLine(String request) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", metrics.port()), 2000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            StringBuilder line = new StringBuilder();
            InputStream in = s.getInputStream();
            for (int c = in.read(); c >= 0 && c != '\r' && c != '\n'; c = in.read()) {
                line.append((char) c);
            }
            return line.toString();
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no answer and no close within 10 s", e);
        } catch (IOException reset) {
            return "";
        }
    }

    @Test
    void slowClientsAreCutOffAndDoNotStarveScrapes() throws Exception {
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                Socket s = new Socket("127.0.0.1", metrics.port());
                s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                slow.add(s);
            }
            // fifty half-sent requests hold no thread a scrape needs
            assertThat(Tools.get(url("/metrics"), null).status()).isEqualTo(200);
            // and the server closes them itself (sun.net.httpserver.maxReqTime)
            Socket first = slow.get(0);
            first.setSoTimeout(15_000);
            long start = System.nanoTime();
            int read;
            try (InputStream in = first.getInputStream()) {
                read = in.read();
            } catch (SocketTimeoutException e) {
                throw new AssertionError("a request stuck mid-header was still open after 15 s", e);
            } catch (IOException reset) {
                read = -1;
            }
            assertThat(read).as("closed, not answered").isEqualTo(-1);
            assertThat((System.nanoTime() - start) / 1e9).as("seconds until closed").isLessThan(15);
        } finally {
            for (Socket s : slow) {
                s.close();
            }
        }
        assertThat(Tools.get(url("/metrics"), null).status()).isEqualTo(200);
    }

    @Test
    void aRequestBodyIsNeverRead() throws IOException {
        // a GET with a body the size of a small attack: answered (or refused), never buffered into state
        try (Socket s = new Socket("127.0.0.1", metrics.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            byte[] head = s.getInputStream().readNBytes(12);
            assertThat(new String(head, StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 ");
        }
        assertThat(Tools.get(url("/metrics"), null).status()).isEqualTo(200);
    }

    /** Every probe attached, nothing counted. */
    private static final class StubSource implements MetricsSource {
        @Override
        public Map<EventKind, KindStats> kindStats() {
            Map<EventKind, KindStats> m = new EnumMap<>(EventKind.class);
            for (EventKind k : EventKind.values()) {
                m.put(k, KindStats.ZERO);
            }
            return m;
        }

        @Override
        public boolean attached(Probe p) {
            return true;
        }

        @Override
        public EffectiveSampling sampling(EventKind k) {
            return new EffectiveSampling(true, 1, 1, 0);
        }

        @Override
        public ProgramRunStats programStats(Probe p) {
            return new ProgramRunStats(0, 0, 0);
        }

        @Override
        public long ringSizeBytes() {
            return 1 << 20;
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
            return List.of();
        }

        @Override
        public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
            return new EndpointMaps.Totals(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new long[EndpointMaps.LIFETIME_SLOTS],
                    new long[EndpointMaps.RETRANS_KINDS]);
        }

        @Override
        public RetransStats retransStats(int trigger) {
            return RetransStats.ZERO;
        }
    }
}
