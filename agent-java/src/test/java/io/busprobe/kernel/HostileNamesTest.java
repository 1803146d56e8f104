package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 11, finding 9: a process name is whatever the process wrote into {@code /proc/self/comm},
 * and busprobe printed it raw, so any local user could send escape sequences to the operator's
 * terminal. A process named {@code ESC [2J bp ESC ]0;x BEL} (clear the screen, retitle the window)
 * is refused connections on a configured endpoint's port; {@code trace} and {@code top} must show
 * its name escaped, and no escape sequence of its making.
 */
@Privileged
class HostileNamesTest {
    /** 11 bytes, under the kernel's 16-byte TASK_COMM_LEN. */
    private static final String COMM_PY = "b'\\x1b[2Jbp\\x1b]0;x\\x07'";
    private static final String ESCAPED = "\\u001b[2Jbp\\u001b]0;x\\u0007";
    private static final String RAW_TITLE = "\u001b]0;x";

    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-names-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The hostile process: renames itself, then is refused {@code count} times over about {@code count} * 0.1 s. */
    private static Thread hostile(int port, int count) {
        return Thread.ofPlatform().start(() -> Sh.run(60, "python3", "-c", """
                import socket, time
                open("/proc/self/comm", "wb").write(%s)
                for _ in range(%d):
                    try: socket.create_connection(("127.0.0.1", %d), timeout=2)
                    except ConnectionRefusedError: pass
                    time.sleep(0.1)
                """.formatted(COMM_PY, count, port)));
    }

    @Test
    void aProcessNameWithEscapeSequencesIsEscapedInTraceAndTop(@TempDir Path tmp) throws Exception {
        int port = closedPort();
        Path config = Files.writeString(tmp.resolve("bus.yaml"),
                "endpoints:\n  - name: hostile-bus\n    bus: other\n    ports: [" + port + "]\n");

        // trace, text output: the name in the COMM column
        Thread traffic = hostile(port, 40);
        Sh.Result trace = busprobe.run("trace", "--duration", "3s", "--kinds", "reset", "--config", config.toString());
        traffic.join();
        assertThat(trace.exit()).as(trace.err()).isZero();
        assertThat(trace.out()).as("trace").contains(ESCAPED).doesNotContain(RAW_TITLE).doesNotContain("\u001b[2J");

        // top: the name in the endpoint's worst processes
        try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                "--metrics-address", "127.0.0.1:0", "--summary-interval=1h").awaitStarted()) {
            traffic = hostile(port, 100);
            // python's start and its first refusal may take a while on a busy host: look again
            // until the endpoint has a row (at most while the hostile process runs)
            Sh.Result top;
            do {
                top = busprobe.run("top", "--iterations", "1", "--interval", "500ms", "--window", "2s");
            } while (top.exit() == 0 && !top.out().contains("hostile-bus") && traffic.isAlive());
            traffic.join();
            assertThat(top.exit()).as(top.err()).isZero();
            assertThat(top.out()).as("top").contains("hostile-bus", ESCAPED).doesNotContain(RAW_TITLE)
                    .doesNotContain("\u001b[2J");
            assertThat(d.stop()).isZero();
        }
    }
}
