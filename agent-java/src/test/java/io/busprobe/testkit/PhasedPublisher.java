package io.busprobe.testkit;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The three phases of the topic tests (issue 14) on one publisher connection: topic {@code a}
 * without loss, topic {@code b} with 5 % of the packets that reach the server's {@code port}
 * dropped, then {@code a} again without loss. Each phase's requests are all answered before the
 * next starts, so nothing of one topic is in flight while another's loss is on.
 *
 * <p>The publisher is a python script run in the client namespace with the server's address as
 * its argument; it prints {@code conn PID PORT} once connected, sends to the topic each stdin line
 * names and prints {@code done ...} when every request of the phase was answered, and on {@code q}
 * prints {@code info TOTAL_RETRANS ...} (its socket's TCP_INFO) and exits.
 */
public final class PhasedPublisher {
    /**
     * The publisher's local port, its socket's own retransmit count (tcpi_total_retrans), and the
     * client namespace's retransmitted segments (TcpRetransSegs) during the lossy phase: the only
     * phase in which {@code b}'s bytes are in flight, so {@code b}'s share is taken of these.
     * Retransmits in the lossless phases are {@code a}'s own: tail loss probes, dozens of them on
     * a loaded host, where ACKs come late.
     */
    public record Result(int port, long tcpInfoRetrans, long lossyPhaseRetrans) {
    }

    private PhasedPublisher() {
    }

    public static Result run(NetnsPair net, int port, String script, String a, String b) throws Exception {
        net.nft(net.server(), "add chain inet bp lossy; add rule inet bp input tcp dport " + port + " jump lossy");
        // driven phase by phase through its stdin, which Sh.start() ties to /dev/null
        Process pub = new ProcessBuilder(NetnsPair.prefixed(net.client(), "python3", "-c", script, net.serverIp()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(pub.getInputStream()));
            PrintWriter in = new PrintWriter(pub.getOutputStream(), true);
            int local = Integer.parseInt(out.readLine().split(" ")[2]);
            in.println(a);
            assertThat(out.readLine()).startsWith("done");
            // every request of a was answered: nothing of a is in flight when the loss starts
            long before = net.snmp(net.client(), "Tcp", "RetransSegs");
            net.nft(net.server(), "add rule inet bp lossy numgen random mod 100 < 5 drop");
            in.println(b);
            assertThat(out.readLine()).startsWith("done");
            net.nft(net.server(), "flush chain inet bp lossy");
            long lossy = net.snmp(net.client(), "Tcp", "RetransSegs") - before;
            in.println(a);
            assertThat(out.readLine()).startsWith("done");
            in.println("q");
            String[] info = out.readLine().split(" ");
            assertThat(pub.waitFor(20, TimeUnit.SECONDS)).isTrue();
            return new Result(local, Long.parseLong(info[1]), lossy);
        } finally {
            Sh.stop(pub);
        }
    }
}
