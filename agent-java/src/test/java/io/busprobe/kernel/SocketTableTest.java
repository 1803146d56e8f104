package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Socket table pressure (issue 11, finding 5): a daemon whose socket table holds 64 entries
 * while 150 connections (300 sockets) carry traffic in the test's own namespaces. The table
 * evicts live sockets after the traffic refresh has counted part of their traffic; each
 * endpoint's bytes and segments must still equal the sum of its sockets' own TCP_INFO, read
 * by the test's processes once each socket is closed, and the evictions must be counted.
 */
@Privileged
class SocketTableTest {
    private static final int PORT = 7301;
    private static final int CONNECTIONS = 150;

    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-" + ProcessHandle.current().pid() + "-socktable"));

    /** TCP_INFO of a closed socket: bytes_sent (200), bytes_received (128), segs_out (136), segs_in (140). */
    private static final String INFO = """
            def info(s):
                i = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
                return "info %d %d %d %d" % (struct.unpack_from("Q", i, 200)[0], struct.unpack_from("Q", i, 128)[0],
                                             struct.unpack_from("I", i, 136)[0], struct.unpack_from("I", i, 140)[0])
            """;

    /**
     * One thread per connection: reads to EOF, answers 5,000 bytes and closes its side, waits for
     * the peer's last ACK (state CLOSE: nothing more will move the socket's counters), prints its
     * TCP_INFO. Exits after n connections.
     */
    private static final String SERVER = """
            import socket, struct, sys, threading, time
            """ + INFO + """
            host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            out = threading.Lock()
            def serve(a):
                while a.recv(65536): pass
                a.sendall(b"r" * 5000); a.shutdown(socket.SHUT_WR)
                for _ in range(400):
                    if a.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)[0] == 7: break
                    time.sleep(0.05)
                line = info(a)
                with out: print(line, flush=True)
                a.close()
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port)); s.listen(256)
            threads = []
            for _ in range(n):
                t = threading.Thread(target=serve, args=(s.accept()[0],)); t.start(); threads.append(t)
            for t in threads: t.join()
            """;

    /**
     * n connections, 10,000 bytes on each; at step "1", 10,000 more on each, half-close, read the
     * answer to EOF (the peer's FIN, ACKed before recv sees it), print TCP_INFO, close.
     */
    private static final String CLIENT = """
            import os, socket, struct, sys, time
            """ + INFO + """
            host, port, n, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
            conns = [socket.create_connection((host, port), timeout=30) for _ in range(n)]
            for c in conns: c.sendall(b"q" * 10000)
            print("open", flush=True)
            for _ in range(1200):
                if os.path.exists(step) and open(step).read() == "1": break
                time.sleep(0.05)
            for c in conns: c.sendall(b"q" * 10000); c.shutdown(socket.SHUT_WR)
            for c in conns:
                while c.recv(65536): pass
                print(info(c), flush=True)
                c.close()
            """;

    @AfterEach
    void removePins() throws Exception {
        busprobe.removePins();
    }

    @Test
    void evictedSocketsAreCountedOnceAndEvictionsAreCounted(@TempDir Path tmp) throws Exception {
        Path step = tmp.resolve("step");
        try (NetnsPair net = NetnsPair.create()) {
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: crowded
                        bus: other
                        ports: [%d]
                        addresses: [%s/32]
                    """.formatted(PORT, net.serverIp()));
            try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                    "--socket-table-size", "64", "--metrics-address", "127.0.0.1:0",
                    "--summary-interval=1h").awaitStarted()) {
                Process server = net.start(net.server(), "python3", "-c", SERVER, net.serverIp(), "" + PORT,
                        "" + CONNECTIONS);
                net.awaitListening(PORT);
                Process client = net.start(net.client(), "python3", "-c", CLIENT, net.serverIp(), "" + PORT,
                        "" + CONNECTIONS, step.toString());
                BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream()));
                assertThat(out.readLine()).as("client start").isEqualTo("open");
                // the once-a-second refresh counts part of each known socket's traffic and finds the evicted ones
                long evictions = awaitEvictions();
                Files.writeString(step, "1");
                String clientInfo = out.lines().reduce("", (a, b) -> a + b + "\n");
                String serverInfo = new String(server.getInputStream().readAllBytes());
                assertThat(client.waitFor()).as("client exit").isZero();
                assertThat(server.waitFor()).as("server exit").isZero();
                net.awaitNoConnections();

                String scrape = scrape(d);
                Map<String, Map<String, Long>> counted = endpoint(scrape);
                assertEqualsTcpInfo(counted.get("client"), clientInfo, "client");
                assertEqualsTcpInfo(counted.get("server"), serverInfo, "server");
                // opens, closes and lifetimes: each close finds where and when its open was counted
                for (String side : List.of("client", "server")) {
                    assertThat(counted.get(side)).as(side).containsEntry("connections_opened", (long) CONNECTIONS)
                            .containsEntry("connections_closed", (long) CONNECTIONS)
                            .containsEntry("lifetimes", (long) CONNECTIONS);
                }
                long end = socketTableEvictions();
                assertThat(end).as("evictions only grow").isGreaterThanOrEqualTo(evictions);
                assertThat(scrape).contains("busprobe_socket_table_size 64")
                        .containsPattern("(?m)^busprobe_socket_table_evictions_total [1-9]");
                System.out.printf("socket table 64: %d evictions seen before the closes, %d at the end; client %s, "
                        + "server %s%n", evictions, end, counted.get("client"), counted.get("server"));
                assertThat(d.log()).contains("--socket-table-size");
                d.stop();
            }
        }
    }

    /** Waits (bounded) until the daemon's kernel counter shows evictions; returns how many. */
    private long awaitEvictions() throws InterruptedException {
        long n = 0;
        for (int i = 0; i < 100 && n == 0; i++) {
            Thread.sleep(200);
            n = socketTableEvictions();
        }
        assertThat(n).as("busprobe_socket_table_evictions_total after 20 s of 300 sockets in a table of 64")
                .isPositive();
        return n;
    }

    private long socketTableEvictions() {
        Sh.Result r = busprobe.run("status", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        return ((Number) UnitJson.object(r.out()).get("socket_table_evictions")).longValue();
    }

    /** The metric families of the endpoint's counters, by the names the assertions use. */
    private static final Map<String, String> FAMILIES = Map.of(
            "bytes_sent", "busprobe_endpoint_sent_bytes_total",
            "bytes_received", "busprobe_endpoint_received_bytes_total",
            "segs_out", "busprobe_endpoint_segments_sent_total",
            "segs_in", "busprobe_endpoint_segments_received_total",
            "connections_opened", "busprobe_endpoint_connections_opened_total",
            "connections_closed", "busprobe_endpoint_connections_closed_total",
            "lifetimes", "busprobe_endpoint_connection_lifetime_seconds_count");

    /** The daemon's own scrape, from the port its start-up line names. */
    private static String scrape(BusprobeProcess.Daemon d) throws Exception {
        var m = java.util.regex.Pattern.compile("metrics on (http://\\S+/metrics)").matcher(d.log());
        assertThat(m.find()).as(d.log()).isTrue();
        var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(m.group(1).replace("localhost", "127.0.0.1"))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** The endpoint's counters per direction, from a scrape. */
    private static Map<String, Map<String, Long>> endpoint(String scrape) {
        Map<String, Map<String, Long>> out = new HashMap<>();
        for (String direction : List.of("client", "server")) {
            Map<String, Long> v = new HashMap<>();
            for (var f : FAMILIES.entrySet()) {
                var line = java.util.regex.Pattern.compile("(?m)^" + f.getValue() + "\\{[^}]*endpoint=\"crowded\"[^}]*"
                        + "direction=\"" + direction + "\"[^}]*\\} (\\S+)$|^" + f.getValue()
                        + "\\{[^}]*direction=\"" + direction + "\"[^}]*endpoint=\"crowded\"[^}]*\\} (\\S+)$")
                        .matcher(scrape);
                assertThat(line.find()).as("%s of crowded/%s in the scrape", f.getValue(), direction).isTrue();
                String value = line.group(1) != null ? line.group(1) : line.group(2);
                v.put(f.getKey(), (long) Double.parseDouble(value));
            }
            out.put(direction, v);
        }
        return out;
    }

    /** Each counter equals the sum over the side's sockets of their TCP_INFO, with no tolerance. */
    private static void assertEqualsTcpInfo(Map<String, Long> counted, String out, String side) {
        List<long[]> infos = out.lines().filter(l -> l.startsWith("info ")).map(l -> {
            String[] f = l.split(" ");
            return new long[]{Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4])};
        }).toList();
        assertThat(infos).as("%s TCP_INFO lines", side).hasSize(CONNECTIONS);
        assertThat(counted).as("%s counters", side).isNotNull();
        String[] names = {"bytes_sent", "bytes_received", "segs_out", "segs_in"};
        for (int i = 0; i < names.length; i++) {
            int f = i;
            long truth = infos.stream().mapToLong(v -> v[f]).sum();
            assertThat(counted.get(names[i])).as("%s %s vs the sum of TCP_INFO", side, names[i]).isEqualTo(truth);
        }
    }
}
