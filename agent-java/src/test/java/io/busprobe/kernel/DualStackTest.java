package io.busprobe.kernel;

import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Totals;
import io.busprobe.testkit.Captured;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * IPv6 and dual stack (issue 11, finding 2). The JVM opens every socket AF_INET6 and a
 * dual-stack listener accepts IPv4 peers on AF_INET6 sockets (::ffff:a.b.c.d): both must match
 * IPv4 address rules, in both directions, and IPv6 prints in RFC 5952 form. Ground truth: each
 * socket's own TCP_INFO (tcpi_bytes_sent, tcpi_bytes_received), read by the test's processes
 * after their last byte, and their own ports.
 */
@Privileged
class DualStackTest {
    private static final int V6 = 1;
    private static final int V4 = 2;
    private static final int V6_PORT = 7101;
    private static final int DUAL_PORT = 7102;

    /**
     * Serves n connections one after another: reads to EOF, answers 20,000 bytes, prints the
     * socket's TCP_INFO bytes (sent, received) and closes.
     */
    private static final String SERVER = """
            import socket, struct, sys
            fam, host, port, n, dual = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
            s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET)
            if dual: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port)); s.listen(8)
            print("listening", flush=True)
            for _ in range(n):
                a, peer = s.accept()
                while a.recv(65536): pass
                a.sendall(b"r" * 20000)
                i = a.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
                print("info", a.getsockname()[1], struct.unpack_from("Q", i, 200)[0], struct.unpack_from("Q", i, 128)[0], flush=True)
                a.close()
            """;

    /** One connection per (family, host) argument: 50,000 bytes, half-close, the answer, TCP_INFO. */
    private static final String CLIENT = """
            import socket, struct, sys
            port = int(sys.argv[1])
            for arg in sys.argv[2:]:
                fam, host = arg.split("/")
                c = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET)
                c.settimeout(20); c.connect((host, port))
                c.sendall(b"q" * 50000); c.shutdown(socket.SHUT_WR)
                while c.recv(65536): pass
                i = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
                print("info", c.getsockname()[1], struct.unpack_from("Q", i, 200)[0], struct.unpack_from("Q", i, 128)[0], flush=True)
                c.close()
            """;

    @Test
    void ipv6AndDualStackSocketsMatchTheirRulesInBothDirections(@TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            String n = net.serverIp().split("\\.")[2];
            String v6Server = "fd00:231:" + n + "::1";
            String v6Client = "fd00:231:" + n + "::2";
            Sh.run("ip", "-n", net.server(), "addr", "add", v6Server + "/64", "dev", net.serverDev(), "nodad");
            Sh.run("ip", "-n", net.client(), "addr", "add", v6Client + "/64", "dev", net.clientDev(), "nodad");
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: v6
                        bus: other
                        ports: [%d]
                        addresses: ["%s/128"]
                      - name: v4
                        bus: other
                        ports: [%d]
                        addresses: [%s/32]
                    """.formatted(V6_PORT, v6Server, DUAL_PORT, net.serverIp()));
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 4 << 20, EndpointConfig.load(config))) {
                Process v6 = net.start(net.server(), "python3", "-c", SERVER, "6", "::", "" + V6_PORT, "1", "0");
                // the JVM's way: an AF_INET6 listener that also takes IPv4 peers
                Process dual = net.start(net.server(), "python3", "-c", SERVER, "6", "::", "" + DUAL_PORT, "2", "1");
                net.awaitListening(V6_PORT);
                net.awaitListening(DUAL_PORT);
                String c6 = net.exec(net.client(), 60, "python3", "-c", CLIENT, "" + V6_PORT, "6/" + v6Server);
                // an AF_INET6 client of an IPv4-mapped address (the JVM's way), and a plain IPv4 one
                String c4 = net.exec(net.client(), 60, "python3", "-c", CLIENT, "" + DUAL_PORT,
                        "6/::ffff:" + net.serverIp(), "4/" + net.serverIp());
                String s6 = new String(v6.getInputStream().readAllBytes());
                String s4 = new String(dual.getInputStream().readAllBytes());
                net.awaitNoConnections();
                live.finish();
                EndpointMaps maps = live.session().bpf().endpointMaps();
                long clientNs = net.inode(net.client());

                assertEndpoint(maps.totals(V6, Direction.CLIENT), c6, 1);
                assertEndpoint(maps.totals(V6, Direction.SERVER), s6, 1);
                assertEndpoint(maps.totals(V4, Direction.CLIENT), c4, 2);
                assertEndpoint(maps.totals(V4, Direction.SERVER), s4, 2);

                // records: IPv6 in RFC 5952 form, IPv4-mapped sockets as the IPv4 connection they are
                List<Captured> opened = live.events().where(e -> e.kind() == EventKind.STATE
                        && e.netns() == clientNs && e.newState() == 1 /* ESTABLISHED */);
                assertThat(opened).filteredOn(e -> e.dport() == V6_PORT).singleElement().satisfies(e -> {
                    assertThat(e.saddr()).isEqualTo(v6Client);
                    assertThat(e.daddr()).isEqualTo(v6Server);
                    assertThat(e.endpoint()).isEqualTo(V6);
                });
                assertThat(opened).filteredOn(e -> e.dport() == DUAL_PORT).hasSize(2).allSatisfy(e -> {
                    assertThat(e.saddr()).isEqualTo(net.clientIp());
                    assertThat(e.daddr()).isEqualTo(net.serverIp());
                    assertThat(e.endpoint()).isEqualTo(V4);
                    assertThat(e.direction()).isEqualTo(Direction.CLIENT.ordinal());
                });
            }
        }
    }

    /** Connections opened and closed, and bytes each way equal to the sockets' own TCP_INFO sums. */
    private static void assertEndpoint(Totals t, String out, int connections) {
        List<String[]> infos = out.lines().filter(l -> l.startsWith("info ")).map(l -> l.split(" ")).toList();
        assertThat(infos).as("TCP_INFO lines in: %s", out).hasSize(connections);
        long sent = infos.stream().mapToLong(f -> Long.parseLong(f[2])).sum();
        long received = infos.stream().mapToLong(f -> Long.parseLong(f[3])).sum();
        assertThat(t.connOpened()).as("opened").isEqualTo(connections);
        assertThat(t.connClosed()).as("closed").isEqualTo(connections);
        assertThat(t.bytesSent()).as("bytes sent vs TCP_INFO").isEqualTo(sent);
        assertThat(t.bytesReceived()).as("bytes received vs TCP_INFO").isEqualTo(received);
    }
}
