package io.busprobe.kernel;

import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code busprobe trace --json} as a user runs it, in its own JVM: events on
 * stdout, the closing summary with exact counts, clean exit on SIGINT.
 */
@Privileged
class TraceCliTest {
    private static Process busprobe(String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // SIGINT at its default, as an operator's Ctrl-C finds it: a suite started in the background
        // by a non-interactive shell (make ... &) passes SIGINT down ignored, and the JVM keeps an
        // ignored SIGINT ignored (nohup semantics), so the trace would never see the test's kill -INT
        String[] cmd = new String[args.length + 7];
        cmd[0] = "env";
        cmd[1] = "--default-signal=INT";
        cmd[2] = java;
        cmd[3] = "--enable-native-access=ALL-UNNAMED";
        cmd[4] = "-cp";
        cmd[5] = System.getProperty("java.class.path");
        cmd[6] = "io.busprobe.cli.Main";
        System.arraycopy(args, 0, cmd, 7, args.length);
        try {
            return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Until this trace process holds attached links (its own fds, not any busprobe program on the host:
     * another daemon may be running), plus a moment for the rest to attach, however slow the JVM starts.
     */
    private static void awaitLoaded(Process p) throws InterruptedException {
        for (int i = 0; i < 300; i++) {
            assertThat(p.isAlive()).as("busprobe trace is running").isTrue();
            if (holdsLink(p.pid())) {
                Thread.sleep(500);
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("busprobe trace did not attach its programs in 30 s");
    }

    private static boolean holdsLink(long pid) {
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/" + pid + "/fdinfo"))) {
            for (java.nio.file.Path fd : fds.toList()) {
                try {
                    if (java.nio.file.Files.readString(fd).contains("link_id:")) {
                        return true;
                    }
                } catch (java.io.IOException closedMeanwhile) {
                    // the fd went away between list and read
                }
            }
        } catch (java.io.IOException e) {
            return false;
        }
        return false;
    }

    @Test
    void jsonTraceShowsResetsAndEndsWithExactSummaryOnSigint() throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            net.nft(net.server(), "add rule inet bp input tcp dport 7001 reject with tcp reset");
            Process p = busprobe("trace", "--json", "--kinds", "reset");
            try {
                // read as it comes: on a busy host the trace prints other resets too, and a full pipe would stall it
                var stdout = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return new String(p.getInputStream().readAllBytes());
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }, Sh.READERS);
                awaitLoaded(p);
                net.exec(net.client(), 30, "python3", "-c", """
                        import socket
                        for _ in range(5):
                            try: socket.create_connection(("%s", 7001), timeout=5)
                            except ConnectionRefusedError: pass
                        """.formatted(net.serverIp()));
                Thread.sleep(500);
                Sh.run("kill", "-INT", Long.toString(p.pid()));
                assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("exits on SIGINT").isTrue();
                List<String> lines = stdout.get(20, TimeUnit.SECONDS).lines().toList();
                // SIGINT stops the loop: summary printed, probes detached, exit 0
                assertThat(p.exitValue()).as("a stop asked for is a success").isZero();

                String clientNs = Long.toString(net.inode(net.client()));
                List<String> resets = lines.stream().filter(l -> l.contains("\"kind\":\"reset_received\"")
                        && l.contains("\"netns\":" + clientNs)).toList();
                assertThat(resets).hasSize(5).allSatisfy(l -> assertThat(l)
                        .contains("\"saddr\":\"" + net.clientIp() + "\"", "\"daddr\":\"" + net.serverIp() + "\"",
                                "\"dport\":7001", "\"state\":\"SYN_SENT\"", "\"family\":\"ipv4\"", "\"pid\":",
                                "\"comm\":", "\"sport\":", "\"ts_ns\":"));
                String summary = lines.getLast();
                assertThat(summary).startsWith("{\"type\":\"summary\"").contains("\"dropped\":0",
                        "\"tcp:tcp_receive_reset\":\"attached\"", "\"tcp:tcp_retransmit_skb\":\"not_selected\"");
                long events = lines.stream().filter(l -> l.startsWith("{\"type\":\"event\"")).count();
                assertThat(summary).contains("\"records_read\":" + events);
            } finally {
                p.destroyForcibly(); // never left behind holding the test JVM's stderr
            }
        }
    }

    /** Issue 15: trace never starts on a blank screen; what it traces goes to stderr before the first event. */
    @Test
    void aHeaderOnStderrSaysWhatIsTracedAndHowToStop() {
        Sh.Result r = new io.busprobe.testkit.BusprobeProcess(Path.of("/sys/fs/bpf/busprobe-test-trace-"
                + ProcessHandle.current().pid())).run("trace", "--duration", "1.5s", "--kinds", "reset,pressure");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).containsPattern("(?m)^busprobe: tracing reset, pressure \\((\\d+)/\\1 probes attached\\), "
                + "ring 8M, for 1.5 s; Ctrl-C to stop$");
        assertThat(r.out()).contains("records read");
    }
}
