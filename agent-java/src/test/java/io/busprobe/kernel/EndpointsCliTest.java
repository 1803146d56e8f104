package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code busprobe run --config}, {@code endpoints}, {@code endpoints reload} and
 * {@code top} as an operator uses them, each in its own JVM.
 */
@Privileged
class EndpointsCliTest {
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-ep-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    @Test
    void endpointsViewReloadAndBadConfig(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("bus.yaml");
        Files.writeString(config, """
                endpoints:
                  - name: loop-bus
                    bus: nats
                    ports: [14222]
                """);
        Path broken = tmp.resolve("broken.yaml");
        Files.writeString(broken, """
                endpoints:
                  - name: loop-bus
                    bus: kafak
                    ports: [14222]
                """);

        // a bad file: one line naming file, line and problem; exit 2; nothing started
        Sh.Result bad = busprobe.run("run", "--config", broken.toString());
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err().strip()).doesNotContain("\n").contains("broken.yaml:3", "unknown bus 'kafak'");
        assertThat(busprobe.pinDir().resolve("kind_stats")).doesNotExist();

        try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                "--metrics-address", "127.0.0.1:0", "--summary-interval=1h").awaitStarted()) {
            Thread traffic = Thread.ofPlatform().start(() -> Sh.run(60, "python3", "-c", """
                    import socket, time
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", 14222)); s.listen(64)
                    for _ in range(40):
                        c = socket.create_connection(s.getsockname()); a, _ = s.accept()
                        c.sendall(b"x" * 10000); a.recv(65536); c.close(); a.close(); time.sleep(0.05)
                    """));
            Sh.Result ep = busprobe.run("endpoints", "--json", "--window", "2s");
            traffic.join();
            assertThat(ep.exit()).as(ep.err()).isZero();
            assertThat(ep.err()).as("the wait is announced, on stderr").contains("busprobe: measuring for 2 s");
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> rows = (List<Map<String, Object>>) UnitJson.object(ep.out()).get("endpoints");
            assertThat(rows).anySatisfy(r -> {
                assertThat(r.get("endpoint")).isEqualTo("loop-bus");
                assertThat(r.get("bus")).isEqualTo("nats");
                assertThat(r.get("direction")).isEqualTo("client");
                assertThat(((Number) r.get("connections_opened")).longValue()).isPositive();
                assertThat(((Number) r.get("bytes_sent")).longValue()).isPositive();
            });
            assertThat(rows).anySatisfy(r -> {
                assertThat(r.get("endpoint")).isEqualTo("loop-bus");
                assertThat(r.get("direction")).isEqualTo("server");
            });

            Sh.Result top = busprobe.run("top", "--iterations", "1", "--interval", "500ms", "--window", "1s");
            assertThat(top.exit()).as(top.err()).isZero();
            assertThat(top.out()).contains("ENDPOINT", "RETRANS");

            // reload: a bad file keeps the running rules and is the command's verdict, a good one replaces them
            Files.copy(broken, config, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Sh.Result rejected = busprobe.run("endpoints", "reload");
            assertThat(rejected.exit()).as(rejected.err()).isEqualTo(2);
            assertThat(rejected.err().strip()).doesNotContain("\n").startsWith("busprobe: endpoints not reloaded, "
                    + "keeping the running config: " + config + ":3: unknown bus 'kafak'");
            awaitLog(d, "endpoints not reloaded, keeping the running config");
            Files.writeString(config, """
                    endpoints:
                      - name: loop-bus
                        bus: nats
                        ports: [14222]
                      - name: other-bus
                        bus: kafka
                        ports: [19092]
                    """);
            Sh.Result reloaded = busprobe.run("endpoints", "reload");
            assertThat(reloaded.exit()).as(reloaded.err()).isZero();
            assertThat(reloaded.out().strip()).isEqualTo("busprobe daemon (pid " + d.pid() + "): endpoints reloaded: "
                    + "2 endpoint(s), 2 rule(s) from " + config);
            awaitLog(d, "endpoints reloaded: 2 endpoint(s)");
            assertThat(busprobe.run("endpoints", "--all", "--window", "100ms").out()).contains("other-bus");
        }
    }

    private static void awaitLog(BusprobeProcess.Daemon d, String text) throws InterruptedException {
        for (int i = 0; i < 50 && !d.log().contains(text); i++) {
            Thread.sleep(100);
        }
        assertThat(d.log()).contains(text);
    }
}
