package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code busprobe top} on a real terminal: tmux gives it a pseudo-terminal of 120 columns, and
 * the test reads the screen as the operator sees it. The frame is there before the first numbers,
 * the table fits the width and stays aligned, the title says the window that was asked for, and a
 * narrower terminal loses columns in the stated order, saying so.
 */
@Privileged
class TopTerminalTest {
    private static final int PORT = 14391;
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-tty-" + ProcessHandle.current().pid()));
    private final String socket = "busprobe-test-" + ProcessHandle.current().pid();

    @AfterEach
    void tearDown() throws Exception {
        Sh.exec(10, "tmux", "-L", socket, "kill-server");
        busprobe.removePins();
    }

    private List<String> screen() {
        return Sh.run(10, "tmux", "-L", socket, "capture-pane", "-p", "-t", "top").lines()
                .map(String::stripTrailing).toList();
    }

    /** The screen once it shows what {@code want} looks for, or a failure with the last screen. */
    private List<String> awaitScreen(Predicate<List<String>> want, String what) throws InterruptedException {
        List<String> last = List.of();
        for (int i = 0; i < 600; i++) {
            last = screen();
            if (want.test(last)) {
                return last;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no " + what + " on the terminal in 30 s; it shows:\n" + String.join("\n", last));
    }

    @Test
    void topDrawsAnAlignedFrameThatFitsTheTerminal(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("bus.yaml");
        Files.writeString(config, "endpoints:\n  - name: tty-bus\n    bus: redis\n    ports: [" + PORT + "]\n");
        Process traffic = null;
        try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                "--metrics-address", "127.0.0.1:0", "--summary-interval=1h").awaitStarted()) {
            // bounded: at most 60 s of small exchanges on the endpoint's port, over loopback
            traffic = Sh.start("python3", "-c", """
                    import socket, time
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", %d)); s.listen(8)
                    c = socket.create_connection(s.getsockname()); a, _ = s.accept()
                    end = time.time() + 60
                    while time.time() < end:
                        c.sendall(b"x" * 20000); n = 0
                        while n < 20000: n += len(a.recv(65536))
                        a.sendall(b"y" * 100); c.recv(100); time.sleep(0.01)
                    """.formatted(PORT));
            Path top = busprobe.script(tmp, "top", "--window", "4s", "--interval", "2s");
            Sh.run(10, "tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", "120",
                    "-y", "40", top.toString());

            // never a blank screen: the frame comes before the first interval is over
            List<String> first = awaitScreen(s -> !String.join("", s).isBlank(), "frame");
            assertThat(first.getFirst()).startsWith("bus endpoints: first numbers in 2 s (4 s window, every 2 s, "
                    + "Ctrl-C to stop)");
            assertThat(first.get(1)).startsWith("ENDPOINT").endsWith("PRESS");

            List<String> full = awaitScreen(s -> s.getFirst().contains("over the last 4 s,")
                    && s.stream().anyMatch(l -> l.startsWith("tty-bus")), "full window with tty-bus");
            assertThat(full.getFirst()).isEqualTo(
                    "bus endpoints over the last 4 s, worst retransmit ratio first (every 2 s, Ctrl-C to stop)");
            String header = full.get(1);
            assertThat(header.split(" +")).containsExactly("ENDPOINT", "BUS", "DIR", "LIVE", "OPEN/CLOSE", "TX/s",
                    "RX/s", "TX", "SEG/s", "RX", "SEG/s", "RETRANS", "RST", "TX", "RST", "RX", "PRESS");
            List<String> rows = full.subList(2, full.size()).stream().takeWhile(l -> !l.isEmpty()
                    && !l.startsWith("  ")).toList();
            assertThat(rows).anySatisfy(r -> assertThat(r).startsWith("tty-bus").contains(" redis ", " client "))
                    .anySatisfy(r -> assertThat(r).startsWith("tty-bus").contains(" redis ", " server "));
            assertThat(full).allSatisfy(l -> assertThat(l.length()).as(l).isLessThanOrEqualTo(120));
            // numbers sit under the right edge of their header, text under its left edge
            int txEnd = header.indexOf("TX/s") + "TX/s".length();
            int retransEnd = header.indexOf("RETRANS") + "RETRANS".length();
            int pressEnd = header.indexOf("PRESS") + "PRESS".length();
            int dir = header.indexOf("DIR");
            assertThat(rows).allSatisfy(r -> {
                assertThat(r.length()).as(r).isEqualTo(pressEnd);
                assertThat(r.substring(0, retransEnd)).as(r).endsWith("%");
                assertThat(r.substring(0, txEnd)).as(r).endsWith("B/s");
                assertThat(r.charAt(retransEnd)).as(r).isEqualTo(' ');
                assertThat(r.substring(dir)).as(r).matches("(client|server|none) .*");
            });

            // a narrower terminal: columns drop out in the stated order, and the frame says which
            Sh.run(10, "tmux", "-L", socket, "resize-window", "-t", "top", "-x", "80", "-y", "40");
            List<String> narrow = awaitScreen(s -> s.stream().anyMatch(l -> l.contains("left out to fit 80 columns")),
                    "an 80-column frame");
            assertThat(narrow).allSatisfy(l -> assertThat(l.length()).as(l).isLessThanOrEqualTo(80));
            assertThat(narrow.get(1)).startsWith("ENDPOINT").doesNotContain("BUS").contains("DIR", "RETRANS");
            assertThat(narrow).anySatisfy(l -> assertThat(l).startsWith("(BUS, RX SEG/s"));
        } finally {
            Sh.stop(traffic);
        }
    }
}
