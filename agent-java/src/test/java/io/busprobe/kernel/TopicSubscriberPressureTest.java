package io.busprobe.kernel;

import io.busprobe.agent.SessionSource;
import io.busprobe.bpf.TrafficRefresh;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.maps.TopicSubscribers.Pressure;
import io.busprobe.metrics.TopicReceiveGauges;
import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Slow consumers, the receive side of topics (issue 14): two subscribers in the client namespace,
 * one that never reads after its subscription (its receive queue fills and it offers the broker a
 * zero window) and one that reads everything; a publisher sends 2 MB to each channel or subject.
 * Once against a real redis-server (SUBSCRIBE to ch-slow and ch-fast), once against a real
 * nats-server (SUB to orders.slow and orders.fast). The bytes waiting in the kernel for each
 * subscriber socket (its rx_queue in the client namespace's /proc/net/tcp, rcv_nxt - copied_seq)
 * are the ground truth: busprobe must charge exactly the slow socket's to the slow topic, as
 * waiting at a zero window, and none to the fast one, under the tag its publisher's sends carry.
 */
@Privileged
class TopicSubscriberPressureTest {
    /** The one endpoint of each test's config. */
    private static final int ENDPOINT = 1;

    /** A daemon beside the test's own session, for the CLI's view of the same subscribers. */
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-subscribers-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    /** Subscribes to argv[2]; prints "ready PORT" once subscribed; then reads everything (argv[3] "read") or nothing. */
    private static final String SUBSCRIBER = """
            import socket, sys
            c = socket.socket()
            # a fixed, small buffer (no autotuning): the queue fills after 64 KB, not after 6 MB
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.connect((sys.argv[1], 6379))
            ch = sys.argv[2].encode()
            c.sendall(b"*2\\r\\n$9\\r\\nSUBSCRIBE\\r\\n$%d\\r\\n%s\\r\\n" % (len(ch), ch))
            got = b""
            while got.count(b"\\r\\n") < 6:
                got += c.recv(4096)
            print("ready", c.getsockname()[1], flush=True)
            if sys.argv[3] == "read":
                while c.recv(65536):
                    pass
            else:
                sys.stdin.read()
            """;

    /** Publishes 2000 messages of 1000 bytes to each channel named in argv[2:], pipelined, and waits for the replies. */
    private static final String PUBLISHER = """
            import socket, sys
            c = socket.create_connection((sys.argv[1], 6379), timeout=30)
            msg = b"m" * 1000
            for ch in sys.argv[2:]:
                ch = ch.encode()
                req = b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n" % (len(ch), ch, len(msg), msg)
                for _ in range(20):
                    c.sendall(req * 100)
                    got = b""
                    while got.count(b"\\r\\n") < 100:
                        got += c.recv(65536)
            print("published", flush=True)
            """;

    /**
     * NATS: SUBs to argv[2] in a send of its own (a subscription is seen at a send's start), then
     * as SUBSCRIBER. The PONG after the SUB says the server has registered it.
     */
    private static final String NATS_SUBSCRIBER = """
            import socket, sys
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.connect((sys.argv[1], 4222))
            def line():
                l = b""
                while not l.endswith(b"\\r\\n"):
                    b = c.recv(1)
                    if not b:
                        sys.exit("nats-server closed the connection")
                    l += b
                return l
            if not line().startswith(b"INFO"):
                sys.exit("no INFO from nats-server")
            c.sendall(b'CONNECT {"verbose":false,"pedantic":false}\\r\\nPING\\r\\n')
            if line() != b"PONG\\r\\n":
                sys.exit("no PONG after CONNECT")
            # the SUB after a PING in the same write: the parse finds it wherever it lies
            c.sendall(b"PING\\r\\nSUB %s 1\\r\\nPING\\r\\n" % sys.argv[2].encode())
            if line() != b"PONG\\r\\n" or line() != b"PONG\\r\\n":
                sys.exit("no PONG after SUB")
            print("ready", c.getsockname()[1], flush=True)
            if sys.argv[3] == "read":
                while c.recv(65536):
                    pass
            else:
                sys.stdin.read()
            """;

    /**
     * NATS: 2000 PUBs of 1000 bytes to each subject in argv[2:], 100 to a write followed by a PING
     * whose PONG says the server has routed them all.
     */
    private static final String NATS_PUBLISHER = """
            import socket, sys
            c = socket.create_connection((sys.argv[1], 4222), timeout=30)
            f = c.makefile("rb")
            if not f.readline().startswith(b"INFO"):
                sys.exit("no INFO from nats-server")
            c.sendall(b'CONNECT {"verbose":false,"pedantic":false}\\r\\nPING\\r\\n')
            if f.readline() != b"PONG\\r\\n":
                sys.exit("no PONG after CONNECT")
            msg = b"m" * 1000
            for subj in sys.argv[2:]:
                pub = b"PUB %s %d\\r\\n%s\\r\\n" % (subj.encode(), len(msg), msg)
                for _ in range(20):
                    c.sendall(pub * 100 + b"PING\\r\\n")
                    while True:
                        l = f.readline()
                        if not l or l.startswith(b"-ERR"):
                            sys.exit("nats-server: %r" % l)
                        if l == b"PONG\\r\\n":
                            break
            print("published", flush=True)
            """;

    @Test
    void bytesWaitingInASubscriberThatDoesNotReadAreChargedToItsChannel(@TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Path config = endpoints(tmp, "pubsub-redis", "redis", 6379, net);
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 16 << 20, EndpointConfig.load(config));
                 BusprobeProcess.Daemon d = daemon(config)) {
                // no output-buffer limit for pubsub clients: redis keeps what the slow one cannot take
                net.start(net.server(), "redis-server", "--bind", net.serverIp(), "--port", "6379", "--save", "",
                        "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                        "--client-output-buffer-limit", "pubsub 0 0 0");
                net.awaitRedis();
                slowAndFast(live, busprobe, net, new Bus("pubsub-redis", 6379, SUBSCRIBER, PUBLISHER, "publish"), "ch-slow",
                        "ch-fast");
            }
        }
    }

    /**
     * The same with NATS subjects. nats-server disconnects a slow consumer: when a write to it
     * has not finished within write_deadline (10 s by default; 2 s in older servers), or when more than
     * max_pending (64 MB) waits for it in the server. Here the 2 MB for orders.slow wait in the
     * server's memory far below max_pending, and write_deadline is raised to 5 minutes, longer
     * than the test, so that the slow subscriber's connection stays while its queue is full and
     * measured; ping_interval is raised too, as the slow one never answers the server's PINGs.
     */
    @Test
    void bytesWaitingInASubscriberThatDoesNotReadAreChargedToItsSubject(@TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Path config = endpoints(tmp, "orders-nats", "nats", 4222, net);
            Path serverConfig = tmp.resolve("nats-server.conf");
            Files.writeString(serverConfig, """
                    listen: "%s:4222"
                    write_deadline: "300s"
                    max_pending: 67108864
                    ping_interval: "10m"
                    """.formatted(net.serverIp()));
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 16 << 20, EndpointConfig.load(config));
                 BusprobeProcess.Daemon d = daemon(config)) {
                net.start(net.server(), "nats-server", "-c", serverConfig.toString());
                NatsTopicTaggingTest.awaitNats(net);
                slowAndFast(live, busprobe, net, new Bus("orders-nats", 4222, NATS_SUBSCRIBER, NATS_PUBLISHER, "pub"),
                        "orders.slow", "orders.fast");
            }
        }
    }

    /** A broker under test: its endpoint's name and port, its client scripts, its publishers' op. */
    private record Bus(String endpoint, int port, String subscriber, String publisher, String publishOp) {
    }

    private static Path endpoints(Path tmp, String name, String bus, int port, NetnsPair net) throws Exception {
        Path config = tmp.resolve("endpoints.yaml");
        Files.writeString(config, """
                endpoints:
                  - name: %s
                    bus: %s
                    ports: [%d]
                    addresses: [%s/32]
                """.formatted(name, bus, port, net.serverIp()));
        return config;
    }

    /**
     * A subscriber of {@code slowTopic} that never reads, one of {@code fastTopic} that reads
     * everything, 2 MB published to each; then the kernel's queues against busprobe's.
     */
    private static void slowAndFast(LiveSession live, BusprobeProcess cli, NetnsPair net, Bus bus, String slowTopic,
                                    String fastTopic) throws Exception {
        Map<String, Long> mibBefore = net.mibs(net.client());
        Process slow = subscriber(net, bus, slowTopic, false);
        Process fast = subscriber(net, bus, fastTopic, true);
        try {
            int slowPort = readyPort(slow);
            int fastPort = readyPort(fast);
            String published = net.exec(net.client(), 120, "python3", "-c", bus.publisher(), net.serverIp(),
                    slowTopic, fastTopic);
            assertThat(published).contains("published");

            // the kernel's side: the slow queue stops growing (the window is shut), the fast one empties
            long slowQueue = awaitStable(net, slowPort);
            awaitQueue(net, fastPort, 0);
            TrafficRefresh r = live.session().bpf().refreshTraffic();
            long slowAfter = rxQueue(net, slowPort);
            long fastAfter = rxQueue(net, fastPort);
            Map<String, Long> mib = net.mibs(net.client());
            long toZero = mib.get("TcpExt.TCPToZeroWindowAdv") - mibBefore.get("TcpExt.TCPToZeroWindowAdv");
            String ss = net.exec(net.client(), 10, "ss", "-tin", "dport = :" + bus.port());

            List<TopicSubscribers.Subscriber> rows = live.session().bpf().topicSubscribers().rows();
            List<Pressure> topics = TopicSubscribers.byTopic(rows, live.session().bpf().topicMaps());
            System.out.printf("TopicSubscriberPressureTest %s: refresh %s; rx_queue slow %d (before the refresh "
                            + "%d), fast %d; TCPToZeroWindowAdv %d; busprobe %s; sockets %s%n%s%n", bus.endpoint(), r,
                    slowAfter, slowQueue, fastAfter, toZero, topics, rows, ss);

            assertThat(slowAfter).as("the slow subscriber's queue, unchanged over the refresh")
                    .isEqualTo(slowQueue).isGreaterThan(30_000);
            assertThat(fastAfter).isZero();
            assertThat(toZero).as("the client namespace advertised a zero window (TCPToZeroWindowAdv)")
                    .isPositive();
            assertThat(topics).filteredOn(p -> p.endpoint() == ENDPOINT && p.name().equals(slowTopic))
                    .singleElement().satisfies(p -> {
                        assertThat(p.subscribers()).isEqualTo(1);
                        assertThat(p.queueBytes()).as("%s's waiting bytes", slowTopic).isEqualTo(slowAfter);
                        assertThat(p.zeroWindow()).as("%s's subscriber at a zero window", slowTopic).isEqualTo(1);
                    });
            assertThat(topics).filteredOn(p -> p.endpoint() == ENDPOINT && p.name().equals(fastTopic))
                    .singleElement().satisfies(p -> {
                        assertThat(p.subscribers()).isEqualTo(1);
                        assertThat(p.queueBytes()).as("%s's waiting bytes", fastTopic).isZero();
                        assertThat(p.zeroWindow()).isZero();
                    });
            // one tag for a topic's subscribers and its publishers: the send side's rows of the same name
            for (String topic : List.of(slowTopic, fastTopic)) {
                long tag = topics.stream().filter(p -> p.name().equals(topic)).findFirst().orElseThrow().tag();
                assertThat(live.session().bpf().topicMaps().rows()).as("the publisher's row of %s", topic)
                        .filteredOn(row -> row.endpoint() == ENDPOINT && row.name().equals(topic))
                        .singleElement().satisfies(row -> {
                            assertThat(row.tag()).as("%s: the subscriber's tag is the publisher's", topic)
                                    .isEqualTo(tag);
                            assertThat(row.op()).isEqualTo(bus.publishOp());
                            assertThat(row.bytesSent()).isPositive();
                        });
            }
            assertThat(topics).as("only the two subscribers; the publisher subscribed to nothing")
                    .allSatisfy(p -> assertThat(p.name()).isIn(slowTopic, fastTopic));

            MetricSnapshots scrape = new TopicReceiveGauges(new SessionSource(live.session()), 50).collect();
            assertThat(gauges(scrape, TopicReceiveGauges.QUEUE, bus.endpoint()))
                    .containsExactlyInAnyOrderEntriesOf(Map.of(slowTopic, (double) slowAfter, fastTopic, 0.0, "other", 0.0));
            assertThat(gauges(scrape, TopicReceiveGauges.ZERO_WINDOW, bus.endpoint()))
                    .containsExactlyInAnyOrderEntriesOf(Map.of(slowTopic, 1.0, fastTopic, 0.0, "other", 0.0));

            // the operator's view: `endpoints --by topic` against the daemon, once its refresh sampled the full queue
            Map<String, Map<String, Object>> cliTopics = awaitCliQueue(cli, bus.endpoint(), slowTopic, slowAfter);
            assertThat(cliTopics.get(slowTopic)).as("%s in --json: %s", slowTopic, cliTopics)
                    .containsEntry("receive_queue_bytes", slowAfter).containsEntry("subscribers", 1L)
                    .containsEntry("zero_window_subscribers", 1L);
            assertThat(cliTopics.get(fastTopic)).as("%s in --json: %s", fastTopic, cliTopics)
                    .containsEntry("receive_queue_bytes", 0L).containsEntry("subscribers", 1L)
                    .containsEntry("zero_window_subscribers", 0L);
            Sh.Result table = cli.run("endpoints", "--by", "topic", "--window", "100ms");
            assertThat(table.exit()).as(table.err()).isZero();
            System.out.printf("TopicSubscriberPressureTest %s: busprobe endpoints --by topic%n%s", bus.endpoint(),
                    table.out());
            assertThat(table.out()).contains("WAITING", "SUBS", "ZERO-WIN", slowTopic, fastTopic);
        } finally {
            Sh.stop(slow);
            Sh.stop(fast);
        }
        // a subscriber's close forgets it
        awaitNoSubscribers(live);
    }

    /** The daemon on the test's endpoints: up before any subscriber sends its subscription. */
    private BusprobeProcess.Daemon daemon(Path config) {
        return busprobe.startDaemon("run", "--config", config.toString(), "--metrics-address", "127.0.0.1:0")
                .awaitStarted();
    }

    /**
     * {@code endpoints --by topic --json}'s topics of {@code endpoint}, by name, once the slow
     * topic's receive_queue_bytes reads {@code want}: the daemon samples at its own refresh, which
     * walks the namespace when a segment moved there (the broker's zero-window probes move some).
     * 60 tries at most.
     */
    @SuppressWarnings("unchecked")
    private static Map<String, Map<String, Object>> awaitCliQueue(BusprobeProcess cli, String endpoint,
                                                                 String slowTopic, long want) throws Exception {
        Map<String, Map<String, Object>> topics = Map.of();
        for (int i = 0; i < 60; i++) {
            Sh.Result r = cli.run("endpoints", "--by", "topic", "--json", "--window", "100ms");
            assertThat(r.exit()).as(r.err()).isZero();
            topics = new TreeMap<>();
            for (Map<String, Object> e : (List<Map<String, Object>>) UnitJson.object(r.out()).get("endpoints")) {
                if (e.get("endpoint").equals(endpoint)) {
                    for (Map<String, Object> t : (List<Map<String, Object>>) e.get("topics")) {
                        topics.putIfAbsent((String) t.get("topic"), t);
                    }
                }
            }
            Map<String, Object> slow = topics.get(slowTopic);
            if (slow != null && Long.valueOf(want).equals(slow.get("receive_queue_bytes"))) {
                return topics;
            }
            Thread.sleep(500);
        }
        return topics;
    }

    private static Process subscriber(NetnsPair net, Bus bus, String topic, boolean reads) throws Exception {
        // stdin a pipe that stays open: the slow one blocks on it instead of reading its socket
        return new ProcessBuilder(NetnsPair.prefixed(net.client(), "python3", "-c", bus.subscriber(), net.serverIp(),
                topic, reads ? "read" : "hold")).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static int readyPort(Process p) throws Exception {
        String line = new BufferedReader(new InputStreamReader(p.getInputStream())).readLine();
        assertThat(line).as("a subscriber's first line").startsWith("ready");
        return Integer.parseInt(line.split(" ")[1]);
    }

    /** rx_queue of the client namespace's socket on local port {@code port}, from /proc/net/tcp. */
    private static long rxQueue(NetnsPair net, int port) {
        String local = String.format(":%04X", port);
        for (String line : net.exec(net.client(), 10, "cat", "/proc/net/tcp").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 4 && f[1].endsWith(local) && f[3].equals("01")) {
                return Long.parseLong(f[4].split(":")[1], 16);
            }
        }
        throw new AssertionError("no established socket on local port " + port);
    }

    /** The queue once it read the same three times 200 ms apart (the window is shut: nothing more comes). */
    private static long awaitStable(NetnsPair net, int port) throws InterruptedException {
        long last = -1;
        int same = 0;
        for (int i = 0; i < 150; i++) {
            long q = rxQueue(net, port);
            same = q == last && q > 0 ? same + 1 : 0;
            if (same == 2) {
                return q;
            }
            last = q;
            Thread.sleep(200);
        }
        throw new AssertionError("the slow subscriber's queue did not settle in 30 s: " + last);
    }

    private static void awaitQueue(NetnsPair net, int port, long want) throws InterruptedException {
        for (int i = 0; i < 150; i++) {
            if (rxQueue(net, port) == want) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("the fast subscriber's queue did not reach " + want + " in 30 s");
    }

    private static void awaitNoSubscribers(LiveSession live) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            if (live.session().bpf().topicSubscribers().rows().isEmpty()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("subscribers left after their close: " + live.session().bpf().topicSubscribers().rows());
    }

    /** A gauge family's values of one endpoint, by topic. */
    private static Map<String, Double> gauges(MetricSnapshots scrape, String family, String endpoint) {
        Map<String, Double> out = new TreeMap<>();
        for (MetricSnapshot m : scrape) {
            if (m instanceof GaugeSnapshot g && g.getMetadata().getName().equals(family)) {
                for (var d : g.getDataPoints()) {
                    if (d.getLabels().get("endpoint").equals(endpoint)) {
                        out.put(d.getLabels().get("topic"), d.getValue());
                    }
                }
            }
        }
        return out;
    }
}
