package io.busprobe.kernel;

import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon's refresh is paced ({@code BusprobeObject.refreshTraffic(true)}): a namespace that
 * moved only a trickle of TCP segments since its last walk waits up to 5 s for the next one, since
 * each walk visits the whole established hash. What it counts stays exact: whenever a walk counts
 * an open connection, its bytes since the first walk are the socket's own {@code tcpi_bytes_sent}
 * (through ss) since then. The connection is made before the session starts, so that the
 * session's first scan finds its namespaces (a namespace is found through a process in it).
 */
@Privileged
class TrafficPacingTest {
    private static final int PORT = 7411;

    /** Accepts one connection and reads it to the end. */
    private static final String SERVER = """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
            c, _ = s.accept()
            while c.recv(65536): pass
            """;
    /** One connection; "N" on stdin sends N bytes and answers "sent" once the peer acked them all. */
    private static final String CLIENT = """
            import socket, struct, sys, time
            c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
            print("connected", flush=True)
            for line in sys.stdin:
                c.sendall(b"x" * int(line))
                for _ in range(400):
                    info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
                    if struct.unpack_from("I", info, 24)[0] == 0: break  # tcpi_unacked
                    time.sleep(0.005)
                print("sent", flush=True)
            """;

    @Test
    void aTrickleWaitsForTheNextWalkAndABurstIsCountedAtOnceBothExactly(@TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: paced
                        bus: other
                        ports: [%d]
                        addresses: [%s/32]
                    """.formatted(PORT, net.serverIp()));
            EndpointConfig endpoints = EndpointConfig.load(config);
            net.start(net.server(), "python3", "-c", SERVER, net.serverIp(), "" + PORT);
            net.awaitListening(PORT);
            // commands on stdin, which net.start() closes
            Process client = new ProcessBuilder(NetnsPair.prefixed(net.client(), "python3", "-c", CLIENT, net.serverIp(),
                    "" + PORT)).redirectErrorStream(true).start();
            try {
                paced(net, client, endpoints);
            } finally {
                Sh.stop(client);
            }
        }
    }

    private static void paced(NetnsPair net, Process client, EndpointConfig endpoints) throws Exception {
        int id = endpoints.endpoints().stream().filter(e -> e.name().equals("paced")).findFirst().orElseThrow().id();
        BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream()));
        PrintStream in = new PrintStream(client.getOutputStream(), true);
        assertThat(out.readLine()).isEqualTo("connected");
        try (var live = LiveSession.start(EnumSet.allOf(Family.class), 1 << 20, endpoints)) {
            EndpointMaps maps = live.session().bpf().endpointMaps();
            live.session().bpf().refreshTraffic();
            long counted0 = maps.totals(id, Direction.CLIENT).bytesSent();
            long sent0 = bytesSent(net);
            java.util.function.LongSupplier counted = () -> maps.totals(id, Direction.CLIENT).bytesSent() - counted0;
            java.util.function.LongSupplier sent = () -> bytesSent(net) - sent0;
            send(in, out, 1000);
            live.session().bpf().refreshTraffic();
            assertThat(counted.getAsLong()).as("counted by a full walk").isEqualTo(sent.getAsLong()).isEqualTo(1000);

            // a trickle right after a walk: left for later by the paced refresh, counted by a full one
            boolean left = false;
            for (int attempt = 0; attempt < 3 && !left; attempt++) {
                live.session().bpf().refreshTraffic();
                long walkedAt = System.nanoTime();
                long before = counted.getAsLong();
                assertThat(before).as("counted at a full walk").isEqualTo(sent.getAsLong());
                send(in, out, 1000);
                live.session().bpf().refreshTraffic(true);
                // a host stalled past the 5 s bound would walk the namespace again: try once more
                left = System.nanoTime() - walkedAt < 4_500_000_000L;
                if (left) {
                    assertThat(counted.getAsLong())
                            .as("a trickle of segments within 5 s of the last walk is left for later")
                            .isEqualTo(before).isLessThan(sent.getAsLong());
                }
            }
            assertThat(left).as("three tries within 4.5 s of a walk").isTrue();
            live.session().bpf().refreshTraffic();
            assertThat(counted.getAsLong()).as("counted by a full walk").isEqualTo(sent.getAsLong());

            // a burst (hundreds of segments) is walked at once by the paced refresh
            send(in, out, 400_000);
            live.session().bpf().refreshTraffic(true);
            long walkedAt = System.nanoTime();
            assertThat(counted.getAsLong()).as("a burst is counted at once").isEqualTo(sent.getAsLong());

            // a trickle is walked by the paced refresh once 5 s passed since the last walk
            send(in, out, 1000);
            Thread.sleep(Math.max(0, 5_200_000_000L - (System.nanoTime() - walkedAt)) / 1_000_000);
            live.session().bpf().refreshTraffic(true);
            assertThat(counted.getAsLong()).as("a trickle 5 s after the last walk").isEqualTo(sent.getAsLong());
            in.close();
        }
    }

    private static void send(PrintStream in, BufferedReader out, int bytes) throws Exception {
        in.println(bytes);
        assertThat(out.readLine()).as("client sent %d bytes", bytes).isEqualTo("sent");
    }

    /** tcpi_bytes_sent of the client's socket, from ss in its namespace (which leaves out a 0). */
    private static long bytesSent(NetnsPair net) {
        String ss = net.exec(net.client(), 10, "ss", "-tinH", "dport = :" + PORT);
        assertThat(ss).as("the client's connection in ss").contains(":" + PORT);
        Matcher m = Pattern.compile("\\bbytes_sent:(\\d+)").matcher(ss);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
