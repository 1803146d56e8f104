package io.busprobe.bpf;

import io.busprobe.ffi.Errno;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The namespace worker on the real kernel: a call runs inside the target network namespace, on
 * one thread that is reused, and that thread is back in the agent's own namespace after every
 * call, a failing one included. Ground truth: the kernel's ns/net links of the threads.
 */
@Privileged
class NetNamespacesTest {
    /** The inode of a ns/net link, e.g. {@code net:[4026532247]}. */
    private static String netns(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** "PID/task/TID" of the calling thread, from the kernel. */
    private static String threadSelf() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void callsRunInTheTargetNamespaceOnOneThreadThatAlwaysComesBack() throws Exception {
        String own = netns(Path.of("/proc/self/ns/net"));
        try (NetnsPair net = NetnsPair.create()) {
            String target = "net:[" + net.inode(net.server()) + "]";
            assertThat(target).isNotEqualTo(own);
            Process sleeper = net.start(net.server(), "sleep", "120");
            int pid = (int) sleeper.pid();
            Path link = Path.of("/proc/" + pid + "/ns/net");
            for (int i = 0; i < 200 && !target.equals(netns(link)); i++) {
                Thread.sleep(25); // `ip netns exec` has not entered yet
            }
            assertThat(netns(link)).isEqualTo(target);

            String[] seen = new String[2];
            String[] worker = new String[2];
            assertThat(NetNamespaces.inNamespaceOf(pid, () -> {
                seen[0] = netns(Path.of("/proc/thread-self/ns/net"));
                worker[0] = threadSelf();
                return 7;
            })).isEqualTo(7);
            assertThat(seen[0]).isEqualTo(target);
            assertThat(netns(Path.of("/proc/" + worker[0] + "/ns/net"))).as("worker back home").isEqualTo(own);

            // a call that fails: the caller gets its exception, the worker still comes back
            assertThatThrownBy(() -> NetNamespaces.inNamespaceOf(pid, () -> {
                throw new IllegalStateException("boom inside " + netns(Path.of("/proc/thread-self/ns/net")));
            })).isInstanceOf(IllegalStateException.class).hasMessage("boom inside " + target);
            assertThat(netns(Path.of("/proc/" + worker[0] + "/ns/net"))).as("worker back home").isEqualTo(own);

            // the next call is served by the same thread: no thread per namespace per refresh
            NetNamespaces.inNamespaceOf(pid, () -> {
                seen[1] = netns(Path.of("/proc/thread-self/ns/net"));
                worker[1] = threadSelf();
                return 0;
            });
            assertThat(seen[1]).isEqualTo(target);
            assertThat(worker[1]).isEqualTo(worker[0]);
            assertThat(netns(Path.of("/proc/" + worker[1] + "/ns/net"))).isEqualTo(own);
        }
    }

    @Test
    void aNamespaceWithoutTcpSocketsIsSkippedOneWithAListenerIsNot() throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Process sleeper = net.start(net.client(), "sleep", "120");
            int pid = (int) sleeper.pid();
            Path link = Path.of("/proc/" + pid + "/ns/net");
            String client = "net:[" + net.inode(net.client()) + "]";
            for (int i = 0; i < 200 && !client.equals(netns(link)); i++) {
                Thread.sleep(25); // `ip netns exec` has not entered yet
            }
            assertThat(net.exec(net.client(), 10, "ss", "-Htan")).as("the kernel: no TCP socket").isBlank();
            assertThat(NetNamespaces.mayHaveTcpSockets(pid)).isFalse();

            net.start(net.server(), "socat", "TCP-LISTEN:7311,reuseaddr", "STDOUT");
            net.awaitListening(7311);
            Process other = net.start(net.server(), "sleep", "120");
            Path otherLink = Path.of("/proc/" + other.pid() + "/ns/net");
            String server = "net:[" + net.inode(net.server()) + "]";
            for (int i = 0; i < 200 && !server.equals(netns(otherLink)); i++) {
                Thread.sleep(25);
            }
            assertThat(NetNamespaces.mayHaveTcpSockets((int) other.pid())).isTrue();
        }
        assertThat(NetNamespaces.mayHaveTcpSockets(Integer.MAX_VALUE)).as("unreadable: look").isTrue();
    }

    /**
     * The refresh walks a namespace again only when its TCP activity moved: the fingerprint is
     * the kernel's own InSegs + OutSegs + RetransSegs of that namespace (read here from inside
     * it, with {@code ip netns exec}), it stays put while an established connection idles, and
     * one byte sent moves it.
     */
    @Test
    void tcpActivityIsTheNamespacesSegmentsAndMovesWithOneByte() throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Process sleeper = net.start(net.client(), "sleep", "120");
            int pid = (int) sleeper.pid();
            Path link = Path.of("/proc/" + pid + "/ns/net");
            String client = "net:[" + net.inode(net.client()) + "]";
            for (int i = 0; i < 200 && !client.equals(netns(link)); i++) {
                Thread.sleep(25); // `ip netns exec` has not entered yet
            }
            Process server = net.start(net.server(), "socat", "-u", "TCP-LISTEN:7312,reuseaddr", "/dev/null");
            net.awaitListening(7312);
            // a connection that sends one byte, then idles with its stdin open
            Process conn = net.start(net.client(), "sh", "-c",
                    "{ printf x; sleep 30; } | socat -u STDIN TCP:" + net.serverIp() + ":7312");
            try {
                // the connection is up and its byte through (on a loaded host socat may take seconds):
                // the namespace's segments have moved and stay put for 600 ms (the delayed ACK included)
                long settled = -1;
                for (int i = 0; i < 100; i++) {
                    long k = kernelSegments(net);
                    Thread.sleep(600);
                    if (k > 0 && k == kernelSegments(net)) {
                        settled = k;
                        break;
                    }
                }
                assertThat(settled).as("a handshake and a byte moved segments, then none").isPositive();
                long moved = NetNamespaces.tcpActivity(pid);
                assertThat(moved).as("the kernel's InSegs + OutSegs + RetransSegs").isEqualTo(kernelSegments(net));
                long idle = NetNamespaces.tcpActivity(pid);
                Thread.sleep(1000);
                assertThat(NetNamespaces.tcpActivity(pid)).as("an idle established connection moves nothing")
                        .isEqualTo(idle);
                assertThat(net.exec(net.client(), 10, "ss", "-Htn", "state", "established")).isNotBlank();
            } finally {
                conn.destroy();
                server.destroy();
            }
        }
        assertThat(NetNamespaces.tcpActivity(Integer.MAX_VALUE)).as("unreadable").isEqualTo(-1);
    }

    private static long kernelSegments(NetnsPair net) {
        return net.snmp(net.client(), "Tcp", "InSegs") + net.snmp(net.client(), "Tcp", "OutSegs")
                + net.snmp(net.client(), "Tcp", "RetransSegs");
    }

    @Test
    void aProcessThatIsGoneIsEsrch() {
        assertThat(NetNamespaces.inNamespaceOf(Integer.MAX_VALUE, () -> 0)).isEqualTo(-Errno.ESRCH);
    }

    /** The refresh rescans /proc for namespaces sooner when this moved: it must move with each new process. */
    @Test
    void theLastPidMovesWithEachNewProcess() throws Exception {
        long before = NetNamespaces.lastPid();
        assertThat(before).isPositive();
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        assertThat(NetNamespaces.lastPid()).as("the last PID after process %d started", p.pid()).isNotEqualTo(before);
    }
}
