package io.busprobe.kernel;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.endpoint.Prefix;
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

import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * A real bus: Debian's redis-server in one namespace, a publisher, a subscriber
 * and a careless client in another, 3 % loss on the link. Kernel events and
 * counters must land on the Redis endpoint, in the right direction, attributed
 * to the publishing process; unconfigured traffic must land in "other"; and the
 * endpoint's retransmit ratio must agree with the sockets' own TCP_INFO.
 */
@Privileged
class BusEndpointTest {
    private static final int REDIS = 1;

    /** Connects, reports pid and port, runs a workload, reports TCP_INFO (what ss -ti shows) before closing. */
    private static final String CLIENT_LIB = """
            import socket, struct, os, sys, time
            def connect(host):
                c = socket.create_connection((host, 6379), timeout=20)
                print("conn", os.getpid(), c.getsockname()[1], flush=True)
                return c
            def report(c, role):
                info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
                total_retrans, = struct.unpack_from("I", info, 100)
                segs_out, = struct.unpack_from("I", info, 136)
                print("info", role, total_retrans, segs_out, flush=True)
            """;

    @Test
    void redisTrafficIsAttributedToTheEndpointDirectionAndPublisher(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("endpoints.yaml");
        try (NetnsPair net = NetnsPair.create()) {
            // this test's server only: other Redis traffic on the host (other suites) is not ours
            Files.writeString(config, """
                    endpoints:
                      - name: orders-redis
                        bus: redis
                        ports: [6379]
                        addresses: [%s/32]
                    """.formatted(net.serverIp()));
            redisTraffic(net, EndpointConfig.load(config));
        }
    }

    private void redisTraffic(NetnsPair net, EndpointConfig endpoints) throws Exception {
        try (var live = LiveSession.start(EnumSet.allOf(Family.class), 16 << 20, endpoints)) {
            net.start(net.server(), "redis-server", "--bind", net.serverIp(), "--port", "6379", "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no");
            net.awaitRedis();
            // loss on everything but resets: a lost RST is never sent again, and the test counts them
            net.nft(net.server(), "add rule inet bp input tcp dport 6379 tcp flags & rst == 0 "
                    + "numgen random mod 100 < 3 drop");
            net.nft(net.server(), "add rule inet bp input tcp dport 7001 reject with tcp reset");

            Process subscriber = Sh.start(NetnsPair.prefixed(net.client(), "python3", "-c", CLIENT_LIB + """
                    c = connect("%s")
                    c.sendall(b"*2\\r\\n$9\\r\\nSUBSCRIBE\\r\\n$6\\r\\norders\\r\\n")
                    got = b""
                    while b":1\\r\\n" not in got:  # the confirmation, ending in the subscription count
                        got += c.recv(65536)
                    print("subscribed", flush=True)
                    end = time.time() + 30
                    # the whole last message too: closing with its tail unread would send a reset
                    while (got.count(b"order-") < 3000 or not got.endswith(b"\\r\\n")) and time.time() < end:
                        got += c.recv(65536)
                    report(c, "subscriber")
                    c.close()
                    """.formatted(net.serverIp())));
            /*
             * The publisher starts once the subscription is confirmed: after a fixed wait, a SYN or a
             * SUBSCRIBE that the 3 % loss delayed past it (a SYN's retransmit takes 1 s) missed the
             * first orders, and the subscriber died waiting for 3000 without reporting its TCP_INFO.
             */
            BufferedReader subOut = subscriber.inputReader();
            StringBuilder sub = new StringBuilder();
            for (String line = subOut.readLine(); !"subscribed".equals(line); line = subOut.readLine()) {
                assertThat(line).as("the subscriber's output before its subscription is confirmed: %s", sub)
                        .isNotNull();
                sub.append(line).append('\n');
            }
            String pub = net.exec(net.client(), 60, "python3", "-c", CLIENT_LIB + """
                    c = connect("%s")
                    # one segment per order event (no coalescing, no GSO super-packets), so that
                    # the 3 %% random drop hits hundreds of segments, not a handful of 64 KiB bursts
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    msg = b"order-" + b"x" * 400
                    cmd = b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$6\\r\\norders\\r\\n$%%d\\r\\n%%s\\r\\n" %% (len(msg), msg)
                    for _ in range(30):
                        for _ in range(100):
                            c.sendall(cmd)
                        need, got = 100, b""
                        while got.count(b"\\r\\n") < need:
                            got += c.recv(65536)
                    report(c, "publisher")
                    c.close()
                    # a careless client: closes with an unread reply, so its kernel sends a reset
                    r = connect("%s"); r.sendall(b"PING\\r\\n" * 50); time.sleep(0.3); report(r, "careless"); r.close()
                    # an unconfigured port: refused
                    for _ in range(5):
                        try: socket.create_connection(("%s", 7001), timeout=5)
                        except ConnectionRefusedError: pass
                    """.formatted(net.serverIp(), net.serverIp(), net.serverIp()));
            assertThat(subscriber.waitFor(40, TimeUnit.SECONDS)).isTrue();
            subOut.lines().forEach(line -> sub.append(line).append('\n'));
            assertThat(sub.toString()).as("the subscriber reported its TCP_INFO").contains("info subscriber");
            Thread.sleep(500);
            live.finish();
            EndpointMaps maps = live.session().bpf().endpointMaps();
            long clientNs = net.inode(net.client());
            long serverNs = net.inode(net.server());

            long publisherPid = Long.parseLong(field(pub, "conn", 1));
            int publisherPort = Integer.parseInt(field(pub, "conn", 2));

            // retransmits of the publisher's connection: Redis endpoint, client side, the publisher
            List<Captured> retrans = live.events().where(e -> e.kind() == EventKind.RETRANSMIT
                    && e.netns() == clientNs && e.sport() == publisherPort);
            assertThat(retrans).as("retransmits under 3 %% loss").isNotEmpty().allSatisfy(e -> {
                assertThat(e.endpoint()).isEqualTo(REDIS);
                assertThat(e.direction()).isEqualTo(Direction.CLIENT.ordinal());
                assertThat(e.owner()).isTrue();
                assertThat(e.pid()).isEqualTo((int) publisherPid);
                assertThat(e.comm()).isEqualTo("python3");
            });
            // the server side of the same connections: Redis endpoint, served by redis-server
            assertThat(live.events().where(e -> e.kind() == EventKind.STATE && e.netns() == serverNs
                    && e.sport() == 6379 && e.dport() == publisherPort && e.newState() == 8 /* CLOSE_WAIT */))
                    .singleElement().satisfies(e -> {
                        assertThat(e.endpoint()).isEqualTo(REDIS);
                        assertThat(e.direction()).isEqualTo(Direction.SERVER.ordinal());
                        assertThat(e.owner()).isTrue();
                        assertThat(e.comm()).isEqualTo("redis-server");
                    });
            // the careless client's reset is charged to it, on the Redis endpoint
            assertThat(live.events().where(e -> e.kind() == EventKind.RESET_SENT && e.netns() == clientNs
                    && e.dport() == 6379)).isNotEmpty().allSatisfy(e -> {
                        assertThat(e.endpoint()).isEqualTo(REDIS);
                        assertThat(e.direction()).isEqualTo(Direction.CLIENT.ordinal());
                        assertThat(e.pid()).isEqualTo((int) publisherPid);
                    });

            Totals client = maps.totals(REDIS, Direction.CLIENT);
            Totals server = maps.totals(REDIS, Direction.SERVER);
            Totals other = maps.totals(0, Direction.NONE);
            // the readiness ping, the publisher, the subscriber and the careless client
            assertThat(client.connOpened()).isEqualTo(4);
            assertThat(client.connClosed()).isEqualTo(4);
            assertThat(server.connOpened()).isEqualTo(4);
            assertThat(client.resetsSent()).isGreaterThanOrEqualTo(1);
            assertThat(server.resetsReceived()).isGreaterThanOrEqualTo(1);
            assertThat(other.resetsReceived()).as("refused connections to port 7001").isGreaterThanOrEqualTo(5);
            assertThat(other.connFailed()).isGreaterThanOrEqualTo(5);
            assertThat(client.retransSegs()).isPositive();
            assertThat(client.bytesSent()).isGreaterThan(30L * 100 * 400);
            assertThat(java.util.Arrays.stream(client.lifetimeUsLog2()).sum()).isEqualTo(4);

            // the headline ratio vs the sockets' own TCP_INFO taken just before each close
            long retransTotal = 0;
            long segsTotal = 0;
            for (String out : List.of(pub, sub.toString())) {
                for (String line : out.lines().filter(l -> l.startsWith("info ")).toList()) {
                    String[] f = line.split(" ");
                    retransTotal += Long.parseLong(f[2]);
                    segsTotal += Long.parseLong(f[3]);
                }
            }
            assertThat(segsTotal).isPositive();
            double expected = (double) retransTotal / segsTotal;
            assertThat(client.retransRatio()).as("endpoint ratio vs TCP_INFO (%d/%d)", retransTotal, segsTotal)
                    .isCloseTo(expected, within(Math.max(0.05 * expected, 0.002)));
        }
    }

    @Test
    void aQuietLongLivedConnectionShowsItsTrafficBeforeItCloses(@TempDir Path tmp) throws Exception {
        Path go = tmp.resolve("close-now");
        try (NetnsPair net = NetnsPair.create()) {
            // an endpoint of this test's own (its server's address), not the default "redis": other
            // work on the host may carry lossy Redis traffic on port 6379
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: quiet-redis
                        bus: redis
                        ports: [6379]
                        addresses: [%s/32]
                    """.formatted(net.serverIp()));
            EndpointConfig endpoints = EndpointConfig.load(config);
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 1 << 20, endpoints)) {
                quietConnection(net, live, endpoints, go);
            }
        }
    }

    private void quietConnection(NetnsPair net, LiveSession live, EndpointConfig endpoints, Path go) throws Exception {
        net.start(net.server(), "redis-server", "--bind", net.serverIp(), "--port", "6379", "--save", "",
                "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no");
        net.awaitRedis();
        EndpointMaps maps = live.session().bpf().endpointMaps();
        int redis = endpoints.endpoints().stream().filter(e -> e.name().equals("quiet-redis"))
                .findFirst().orElseThrow().id();
        Totals before = maps.totals(redis, Direction.CLIENT);
        // The client says when its write was answered, then stays open and quiet (no loss: no
        // retransmit will report its traffic) until the test has looked; no sleep to guess it.
        Process client = Sh.start(NetnsPair.prefixed(net.client(), "python3", "-c", CLIENT_LIB + """
                c = connect("%s")
                c.sendall(b"*3\\r\\n$3\\r\\nSET\\r\\n$1\\r\\nk\\r\\n$100000\\r\\n" + b"v" * 100000 + b"\\r\\n")
                c.recv(16)
                print("answered", flush=True)
                for _ in range(600):
                    if os.path.exists(sys.argv[1]): break
                    time.sleep(0.05)
                c.close()
                """.formatted(net.serverIp()), go.toString()));
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(client.getInputStream()));
        String line = out.readLine();
        while (line != null && line.startsWith("conn ")) {
            line = out.readLine();
        }
        assertThat(line).as("client output").isEqualTo("answered");
        live.session().bpf().refreshTraffic();
        Totals during = maps.totals(redis, Direction.CLIENT);
        assertThat(client.isAlive()).as("connection still open").isTrue();
        assertThat(during.retransSegs() - before.retransSegs()).isZero();
        assertThat(during.bytesSent() - before.bytesSent()).as("bytes sent while open").isGreaterThan(100_000);
        assertThat(during.segsOut() - before.segsOut()).isPositive();
        Files.createFile(go);
        assertThat(client.waitFor(20, TimeUnit.SECONDS)).as("client closed").isTrue();
        live.finish();
        Totals after = maps.totals(redis, Direction.CLIENT);
        assertThat(after.bytesSent() - during.bytesSent()).as("not counted twice at close").isLessThan(1000);
    }

    /**
     * The kernel caches each socket's endpoint match. After a reload, an open
     * connection's traffic must follow the new rules, while its close stays
     * where its open was counted, so that live (opened - closed) stays true
     * on both endpoints.
     */
    @Test
    void aReloadMovesOpenConnectionsTrafficButNotTheirOpenAndClose(@TempDir Path tmp) throws Exception {
        Path go = tmp.resolve("send-and-close-now");
        try (var live = LiveSession.start(EnumSet.allOf(Family.class), 1 << 20,
                EndpointConfig.defaults())) {
            EndpointMaps maps = live.session().bpf().endpointMaps();
            // a loopback connection to a port no default endpoint names, open across the reload, on a
            // loopback address of this JVM's: an ephemeral port of other traffic on the host may be
            // the same number
            String ownLoopback = "127.77." + (ProcessHandle.current().pid() >> 8 & 0xff) + "."
                    + (ProcessHandle.current().pid() & 0xff | 1);
            Process peer = Sh.start("python3", "-c", """
                    import os, socket, sys, time
                    s = socket.socket(); s.bind((sys.argv[2], 0)); s.listen(1)
                    c = socket.create_connection(s.getsockname()); a, _ = s.accept()
                    print("port", s.getsockname()[1], flush=True)
                    for _ in range(200):
                        if os.path.exists(sys.argv[1]): break
                        time.sleep(0.05)
                    c.sendall(b"x" * 100000)
                    n = 0
                    while n < 100000: n += len(a.recv(65536))
                    c.close(); a.close(); time.sleep(0.3)
                    """, go.toString(), ownLoopback);
            try {
                var out = new java.io.BufferedReader(new java.io.InputStreamReader(peer.getInputStream()));
                String line = out.readLine();
                assertThat(line).as("peer output").startsWith("port ");
                int port = Integer.parseInt(line.split(" ")[1]);
                maps.install(EndpointConfig.of(List.of(new Endpoint(1, "late",
                        BusType.OTHER, List.of(port), List.of(Prefix.parse(ownLoopback + "/32"))))));
                Files.writeString(go, "");
                assertThat(peer.waitFor(15, TimeUnit.SECONDS)).as("peer finished").isTrue();
            } finally {
                Sh.stop(peer);
            }
            Totals client = maps.totals(1, Direction.CLIENT);
            Totals server = maps.totals(1, Direction.SERVER);
            assertThat(client.bytesSent()).as("client traffic under the new rules").isGreaterThanOrEqualTo(100_000);
            assertThat(server.bytesReceived()).as("server traffic under the new rules").isGreaterThanOrEqualTo(100_000);
            assertThat(client.connOpened()).as("opened before the reload, under other").isZero();
            assertThat(client.connClosed()).as("closed where it was opened").isZero();
            assertThat(server.connClosed()).as("closed where it was opened").isZero();
        }
    }

    private static String field(String out, String tag, int index) {
        return out.lines().filter(l -> l.startsWith(tag + " ")).findFirst()
                .orElseThrow(() -> new AssertionError("no '" + tag + "' line in: " + out)).split(" ")[index];
    }
}
