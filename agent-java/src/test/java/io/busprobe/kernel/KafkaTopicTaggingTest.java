package io.busprobe.kernel;

import io.busprobe.agent.KafkaTopicNames;
import io.busprobe.agent.SessionSource;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicMaps.Row;
import io.busprobe.metrics.TopicCounters;
import io.busprobe.testkit.Captured;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which topic suffers, Kafka: a single-node KRaft broker (kafka_2.13 from Maven Central, its own
 * JVM in the server namespace) and one kafka-clients producer (its own JVM in the client
 * namespace) that sends to orders-a, then to orders-b with 5 % of the packets that reach the
 * broker dropped, then to orders-a again with no loss, all over its one connection to the broker.
 * The kernel's count of the client namespace's retransmitted segments (TcpRetransSegs) must equal
 * the endpoint's, the sum over its topics must equal both, and orders-b must carry at least 95 %.
 * Each phase sends one topic and is flushed before the next, so each Produce request carries one
 * topic (a Produce of several topics is charged to its first). Run twice against the same broker
 * (4.1): with kafka-clients 4.0, whose Produce v12 names its topics, and with kafka-clients 4.1,
 * whose Produce v13 (KIP-516) carries topic IDs, which the kernel tags by ID, shown as {@code id:}
 * and the ID as Kafka prints it (the broker's own partition.metadata gives the test the IDs) until
 * {@link KafkaTopicNames} asks the broker, through the endpoint's {@code admin} bootstrap, and
 * writes the names over them. busprobe runs in the root namespace: it reaches the broker over a
 * veth pair of its own ({@link NetnsPair#linkToRoot}), on a listener (9094) that is not the
 * endpoint's port and not in the lossy chain, so its questions count nowhere in the test.
 */
@Privileged
class KafkaTopicTaggingTest {
    private static final int KAFKA = 1;

    /**
     * The producer: sends to the topic each stdin line names for 3 s (at most 200,000 records),
     * then flushes, so that every request of the phase has been answered when it prints "done".
     * kafka-clients 4.0 sends Produce v12 at most (topics by name); 4.1 and later send v13 (by ID).
     */
    public static final class Producer {
        public static void main(String[] args) throws Exception {
            Properties p = new Properties();
            p.put("bootstrap.servers", args[0] + ":9092");
            p.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            p.put("acks", "all");
            p.put("linger.ms", "5");
            p.put("compression.type", "none");
            p.put("delivery.timeout.ms", "120000");
            byte[] value = new byte[400];
            java.util.Arrays.fill(value, (byte) 'x');
            try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<byte[], byte[]>(p)) {
                // both topics' metadata before any loss: no Metadata request falls in the lossy phase
                for (String t : List.of("orders-a", "orders-b")) {
                    while (producer.partitionsFor(t).isEmpty()) {
                        Thread.sleep(100);
                    }
                }
                System.out.println("ready");
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
                String topic;
                while ((topic = in.readLine()) != null && !topic.equals("q")) {
                    long end = System.nanoTime() + 3_000_000_000L;
                    int n = 0;
                    while (System.nanoTime() < end && n < 200_000) {
                        producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, value));
                        n++;
                    }
                    producer.flush();
                    System.out.println("done " + n);
                }
            }
        }
    }

    @ParameterizedTest(name = "kafka-clients {0}")
    @ValueSource(strings = {"4.0", "4.1"})
    void retransmitsOfOneConnectionAreChargedToTheTopicThatLost(String client, @TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            String adminIp = net.linkToRoot();
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: orders-kafka
                        bus: kafka
                        ports: [9092]
                        addresses: [%s/32]
                        admin: {bootstrap: "%s:9094"}
                    """.formatted(net.serverIp(), adminIp));
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            String cp = System.getProperty("java.class.path");
            Path props = tmp.resolve("server.properties");
            Files.writeString(props, """
                    process.roles=broker,controller
                    node.id=1
                    controller.quorum.voters=1@%1$s:9093
                    listeners=PLAINTEXT://%1$s:9092,CONTROLLER://%1$s:9093,ADMIN://%3$s:9094
                    advertised.listeners=PLAINTEXT://%1$s:9092,ADMIN://%3$s:9094
                    controller.listener.names=CONTROLLER
                    inter.broker.listener.name=PLAINTEXT
                    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,ADMIN:PLAINTEXT
                    log.dirs=%2$s
                    num.partitions=1
                    offsets.topic.replication.factor=1
                    transaction.state.log.replication.factor=1
                    transaction.state.log.min.isr=1
                    group.initial.rebalance.delay.ms=0
                    auto.create.topics.enable=true
                    """.formatted(net.serverIp(), tmp.resolve("kafka-logs"), adminIp));
            Sh.Result format = Sh.exec(120, Map.of(), List.of(java, "-Xmx256m", "-cp", cp, "kafka.tools.StorageTool", "format",
                    "-t", uuid(), "-c", props.toString()));
            assertThat(format.exit()).as("kafka-storage format: %s %s", format.out(), format.err()).isZero();

            EndpointConfig endpoints = EndpointConfig.load(config);
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 16 << 20, endpoints)) {
                long mibBefore = net.snmp(net.client(), "Tcp", "RetransSegs");
                Path brokerLog = tmp.resolve("broker.log");
                Process broker = new ProcessBuilder(NetnsPair.prefixed(net.server(), java, "-Xmx512m", "-cp", cp,
                        "kafka.Kafka", props.toString()))
                        .redirectErrorStream(true).redirectOutput(brokerLog.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
                Process pub = null;
                String nameA = "orders-a";
                String nameB = "orders-b";
                List<String> resolverLog = new java.util.concurrent.CopyOnWriteArrayList<>();
                KafkaTopicNames.Pass pass = null;
                long[] phase = new long[3]; // the client namespace's retransmitted segments in each phase
                long[] probes = new long[3]; // of which tail loss probes (TcpExt.TCPLossProbes)
                try {
                    net.awaitListening(9092);
                    net.nft(net.server(), "add chain inet bp lossy; add rule inet bp input tcp dport 9092 jump lossy");
                    pub = new ProcessBuilder(NetnsPair.prefixed(net.client(), java, "-Xmx256m", "-cp",
                            producerClasspath(cp, client), Producer.class.getName(), net.serverIp()))
                            .redirectError(tmp.resolve("producer.log").toFile()).start();
                    BufferedReader out = new BufferedReader(new InputStreamReader(pub.getInputStream()));
                    PrintWriter in = new PrintWriter(pub.getOutputStream(), true);
                    assertThat(out.readLine()).as("producer: %s", tail(tmp.resolve("producer.log"))).isEqualTo("ready");
                    String taggedA = expectedName(client, tmp, "orders-a");
                    String taggedB = expectedName(client, tmp, "orders-b");
                    Map<String, Long> at = net.mibs(net.client());
                    in.println("orders-a");
                    assertThat(out.readLine()).startsWith("done");
                    at = phase(net, at, phase, probes, 0);
                    // every orders-a request was answered: nothing of orders-a is in flight when the loss starts
                    net.nft(net.server(), "add rule inet bp lossy numgen random mod 100 < 5 drop");
                    in.println("orders-b");
                    assertThat(out.readLine()).startsWith("done");
                    net.nft(net.server(), "flush chain inet bp lossy");
                    at = phase(net, at, phase, probes, 1);
                    in.println("orders-a");
                    assertThat(out.readLine()).startsWith("done");
                    phase(net, at, phase, probes, 2);
                    in.println("q");
                    assertThat(pub.waitFor(30, TimeUnit.SECONDS)).isTrue();

                    // the kernel's tags, as they are before anyone asks the broker: names (v12) or IDs (v13)
                    TopicMaps names = live.session().bpf().topicMaps();
                    assertThat(names.rows()).extracting(Row::name).contains(taggedA, taggedB);
                    assertThat(names.topicIdsAdded()).as("IDs the kernel took (what tells the daemon to walk)")
                            .isEqualTo(client.equals("4.1") ? 2 : 0);
                    // what the daemon's busprobe-kafka thread does every few seconds, done here until it is done
                    try (KafkaTopicNames resolver = new KafkaTopicNames(names, resolverLog::add)) {
                        long deadline = System.nanoTime() + 60_000_000_000L;
                        do {
                            pass = resolver.resolve(endpoints);
                        } while (client.equals("4.1") && pass.named() < 2 && System.nanoTime() < deadline
                                && sleep(500));
                        KafkaTopicNames.Pass again = resolver.resolve(endpoints);
                        assertThat(again).as("a second pass finds nothing left to ask").isEqualTo(new KafkaTopicNames.Pass(0, 0, 0));
                    }
                    assertThat(pass).as("resolver log %s", resolverLog)
                            .isEqualTo(client.equals("4.1") ? new KafkaTopicNames.Pass(2, 2, 0) : new KafkaTopicNames.Pass(0, 0, 0));
                } finally {
                    Sh.stop(pub);
                    Sh.stop(broker);
                }
                net.awaitNoConnections();
                long mib = net.snmp(net.client(), "Tcp", "RetransSegs") - mibBefore;
                Thread.sleep(200);
                // records lost to a full ring (a loaded host's other TCP events share it) are counted
                long lost = live.finish().get(EventKind.RETRANSMIT).dropped();

                TopicMaps topics = live.session().bpf().topicMaps();
                List<Row> rows = topics.rows().stream()
                        .filter(r -> r.endpoint() == KAFKA && r.direction() == Direction.CLIENT).toList();
                long sum = rows.stream().mapToLong(Row::retransSegs).sum();
                String b = nameB;
                long topicB = rows.stream().filter(r -> r.name().equals(b)).mapToLong(Row::retransSegs).sum();
                long endpoint = live.session().bpf().endpointMaps().totals(KAFKA, Direction.CLIENT).retransSegs();

                System.out.printf("KafkaTopicTaggingTest, kafka-clients " + client + ": TcpRetransSegs %d, endpoint %d, by phase %s (tail loss probes %s), topics %s, resolver %s %s%n",
                        mib, endpoint, Arrays.toString(phase), Arrays.toString(probes), rows, pass, resolverLog);
                assertThat(mib).as("retransmitted segments under 5 %% loss").isGreaterThanOrEqualTo(20);
                assertThat(endpoint).as("the endpoint's exact count").isEqualTo(mib);
                assertThat(sum).as("the sum over topics and other: %s", rows).isEqualTo(mib);
                // orders-b's share of the lossy phase's retransmits, the only phase its bytes were in flight
                // (the lossless phases' are orders-a's own tail loss probes: dozens on a loaded host)
                assertThat(topicB).as("orders-b's share of the lossy phase's %d (%d in all): %s", phase[1], mib, rows)
                        .isGreaterThanOrEqualTo((long) Math.ceil(0.95 * phase[1])).isLessThanOrEqualTo(phase[1]);
                assertThat(rows).filteredOn(r -> r.name().equals(b)).extracting(Row::op).containsExactly("produce");
                assertThat(rows).as("every topic named").noneMatch(r -> r.name().startsWith("id:"));
                String a = nameA;
                assertThat(rows).filteredOn(r -> r.name().equals(a)).isNotEmpty()
                        .allSatisfy(r -> assertThat(r.bytesSent()).isPositive());

                MetricSnapshots scrape = new TopicCounters(new SessionSource(live.session()), TopicCounters.DEFAULT_TOP)
                        .collect();
                assertThat(TopicTaggingTest.gauge(scrape, TopicCounters.RECONCILE, "orders-kafka")).as("reconcile").isZero();
                Map<String, Long> series = TopicTaggingTest.counters(scrape, TopicCounters.RETRANS, "orders-kafka");
                assertThat(series.values().stream().mapToLong(Long::longValue).sum()).as("series %s", series).isEqualTo(mib);
                assertThat(series.get("produce/" + nameB)).isEqualTo(topicB);

                // the records carry the topic too
                Set<Long> tagsB = rows.stream().filter(r -> r.name().equals(b)).map(Row::tag)
                        .collect(Collectors.toSet());
                List<Captured> retrans = live.events().where(e -> e.kind() == EventKind.RETRANSMIT
                        && e.netns() == net.inode(net.client()));
                long recorded = retrans.stream().mapToLong(Captured::segs).sum();
                long recordedB = retrans.stream().filter(e -> tagsB.contains(e.topic())).mapToLong(Captured::segs).sum();
                if (lost == 0) {
                    assertThat(recorded).isEqualTo(mib);
                    assertThat(recordedB).isEqualTo(topicB);
                } else {
                    // exact only when every record reached the ring
                    assertThat(recorded).as("%d retransmit records lost to a full ring", lost).isLessThan(mib);
                    assertThat(recordedB).as("%d retransmit records lost to a full ring", lost).isLessThanOrEqualTo(topicB);
                }
            }
        }
    }

    private static boolean sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return true;
    }

    /**
     * The producer's classpath: the test's (kafka-clients 4.1) or, for "4.0", the same with the
     * kafka-clients jar that Maven copied to target/kafka-clients-4.0 in its place.
     */
    private static String producerClasspath(String cp, String client) {
        if (!client.equals("4.0")) {
            return cp;
        }
        Path old = Path.of("target/kafka-clients-4.0/kafka-clients-4.0.1.jar").toAbsolutePath();
        assertThat(old).as("copied by maven-dependency-plugin (process-test-resources)").exists();
        return Arrays.stream(cp.split(java.io.File.pathSeparator))
                .map(e -> e.matches(".*/kafka-clients-[0-9.]+\\.jar") ? old.toString() : e)
                .collect(Collectors.joining(java.io.File.pathSeparator));
    }

    /**
     * The topic as busprobe names it for this client: its name (Produce v12), or {@code id:} and
     * the topic ID that the broker wrote to the partition's partition.metadata (Produce v13),
     * {@code topic_id: <Uuid.toString()>}, which is also what kafka-topics --describe prints.
     */
    private static String expectedName(String client, Path tmp, String topic) throws Exception {
        if (client.equals("4.0")) {
            return topic;
        }
        Path meta = tmp.resolve("kafka-logs").resolve(topic + "-0").resolve("partition.metadata");
        for (int i = 0; i < 100 && !Files.exists(meta); i++) {
            Thread.sleep(100);
        }
        String id = Files.readAllLines(meta).stream().filter(l -> l.startsWith("topic_id: ")).findFirst()
                .orElseThrow(() -> new AssertionError("no topic_id in " + meta)).substring("topic_id: ".length()).strip();
        return "id:" + id;
    }

    /**
     * Adds the client namespace's retransmitted segments and tail loss probes since {@code before}
     * to phase i (the segments orders-a has in its lossless phases are such probes, answered by
     * DSACK: the broker's JVM falls behind and advertises a zero window); returns the reading.
     */
    private static Map<String, Long> phase(NetnsPair net, Map<String, Long> before, long[] segs, long[] probes, int i) {
        Map<String, Long> now = net.mibs(net.client());
        segs[i] = now.get("Tcp.RetransSegs") - before.get("Tcp.RetransSegs");
        probes[i] = now.getOrDefault("TcpExt.TCPLossProbes", 0L) - before.getOrDefault("TcpExt.TCPLossProbes", 0L);
        return now;
    }

    /**
     * A cluster ID as kafka-storage random-uuid makes it: 16 random bytes, URL-safe base64 without
     * padding, drawn again when it starts with '-' (as Kafka's Uuid.randomUuid() does), which
     * kafka-storage's argument parser would take for an option (1 run in 64 failed that way).
     */
    private static String uuid() {
        String id;
        do {
            UUID u = UUID.randomUUID();
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
                    .putLong(u.getLeastSignificantBits());
            id = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b.array());
        } while (id.startsWith("-"));
        return id;
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
