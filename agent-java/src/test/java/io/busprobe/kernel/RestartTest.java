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
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Connections open before the daemon starts (issue 11, finding 4): the daemon seeds its view
 * of them at start, so live = opened - closed holds from the first look. Three connections
 * open, the daemon starts, one closes and one opens: live is 3 on both sides, what {@code ss}
 * shows in the test's own namespaces.
 */
@Privileged
class RestartTest {
    private static final int PORT = 7201;

    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-" + ProcessHandle.current().pid() + "-restart"));

    @AfterEach
    void removePins() throws Exception {
        busprobe.removePins();
    }

    @Test
    void connectionsOpenBeforeTheStartAreLive(@TempDir Path tmp) throws Exception {
        Path step = tmp.resolve("step");
        try (NetnsPair net = NetnsPair.create()) {
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: held
                        bus: other
                        ports: [%d]
                        addresses: [%s/32]
                    """.formatted(PORT, net.serverIp()));
            net.start(net.server(), "python3", "-c", """
                    import socket, threading, time
                    def serve(a):
                        while a.recv(65536): pass
                        a.close()
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("%s", %d)); s.listen(8)
                    end = time.time() + 120
                    s.settimeout(1)
                    while time.time() < end:
                        try: threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
                        except socket.timeout: pass
                    """.formatted(net.serverIp(), PORT));
            net.awaitListening(PORT);
            // three connections, then (at "1") one closes and one opens, then (at "2") all close
            Process client = net.start(net.client(), "python3", "-c", """
                    import os, socket, sys, time
                    def wait(v):
                        for _ in range(1200):
                            if os.path.exists(sys.argv[1]) and open(sys.argv[1]).read() == v: return
                            time.sleep(0.05)
                    conns = [socket.create_connection(("%s", %d)) for _ in range(3)]
                    for c in conns: c.sendall(b"x" * 1000)
                    print("open", flush=True)
                    wait("1")
                    conns.pop(0).close()
                    conns.append(socket.create_connection(("%s", %d)))
                    print("moved", flush=True)
                    wait("2")
                    """.formatted(net.serverIp(), PORT, net.serverIp(), PORT), step.toString());
            BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream()));
            assertThat(out.readLine()).isEqualTo("open");
            assertThat(established(net.client())).as("ss before the start").isEqualTo(3);

            try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                    "--metrics-address", "127.0.0.1:0", "--summary-interval=1h").awaitStarted()) {
                Files.writeString(step, "1");
                assertThat(out.readLine()).isEqualTo("moved");
                awaitClosed(net);
                long truth = established(net.client());
                assertThat(truth).as("ss after one closed and one opened").isEqualTo(3);
                assertThat(established(net.server())).isEqualTo(3);
                Map<String, Long> live = live();
                assertThat(live).as("live connections vs ss").containsEntry("client", truth)
                        .containsEntry("server", truth);
                Files.writeString(step, "2");
                d.stop();
            }
        }
    }

    /** Established connections to or from the test's port, in a namespace of the test. */
    private static long established(String ns) {
        return Sh.run("ip", "netns", "exec", ns, "ss", "-Htn", "state", "established",
                "( sport = :" + PORT + " or dport = :" + PORT + " )").lines().filter(l -> !l.isBlank()).count();
    }

    /** The closed connection's two sides have left FIN_WAIT/CLOSE_WAIT: its close was counted. */
    private static void awaitClosed(NetnsPair net) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            boolean closing = false;
            for (String ns : List.of(net.client(), net.server())) {
                closing |= Sh.run("ip", "netns", "exec", ns, "ss", "-Htan", "( sport = :" + PORT + " or dport = :"
                        + PORT + " )").lines().anyMatch(l -> l.startsWith("FIN-WAIT") || l.startsWith("CLOSE-WAIT")
                        || l.startsWith("LAST-ACK"));
            }
            if (!closing) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the closed connection did not finish closing in 10 s");
    }

    /** live_connections of the endpoint per direction, from {@code busprobe endpoints --json}. */
    @SuppressWarnings("unchecked")
    private Map<String, Long> live() {
        Sh.Result r = busprobe.run("endpoints", "--json", "--all", "--window", "200ms");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Long> out = new java.util.HashMap<>();
        for (Map<String, Object> row : (List<Map<String, Object>>) UnitJson.object(r.out()).get("endpoints")) {
            if ("held".equals(row.get("endpoint"))) {
                out.put((String) row.get("direction"), ((Number) row.get("live_connections")).longValue());
            }
        }
        return out;
    }
}
