package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon's side of Kafka topic names when the brokers cannot be asked: a Produce v13 (a topic
 * by ID) sent to a kafka endpoint whose {@code admin} bootstrap nobody listens on. The daemon's
 * busprobe-kafka thread tries, logs one line naming the endpoint, the bootstrap and the error, and
 * not the same line again at its next passes; the topic stays {@code id:...} in the metrics; the
 * daemon goes on and stops cleanly. (Names from a real broker: {@link KafkaTopicTaggingTest}.)
 */
@Privileged
class KafkaTopicNamesDaemonTest {
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-kafkanames-" + ProcessHandle.current().pid()));

    /** Accepts on 9092 and reads whatever comes, like a broker that never answers. */
    private static final String SINK = """
            import socket, sys, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sys.argv[1], 9092)); s.listen(8)
            def drain(c):
                while c.recv(65536): pass
            while True:
                c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
            """;

    /** One Produce v13 whose one topic is the ID in argv[2] (hex), then the connection stays open. */
    private static final String PRODUCER = """
            import socket, struct, sys, time
            tid = bytes.fromhex(sys.argv[2])
            body = struct.pack('>hhih', 0, 13, 7, 2) + b'bp' + b'\\x00'   # header v2: client_id, no tagged fields
            body += b'\\x00' + struct.pack('>hi', -1, 30000)            # transactional_id null, acks, timeout
            body += b'\\x02' + tid + b'\\x01\\x00' + b'\\x00'                # one topic: ID, no partitions; tagged fields
            c = socket.create_connection((sys.argv[1], 9092))
            c.sendall(struct.pack('>i', len(body)) + body)
            print('sent', flush=True)
            time.sleep(60)
            """;

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    @Test
    void anUnreachableAdminIsLoggedOnceAndTheTopicStaysAnId(@TempDir Path tmp) throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort(); // free once closed: nobody listens there
        }
        byte[] id = new byte[16];
        for (int i = 0; i < id.length; i++) {
            id[i] = (byte) (0x11 * (i + 1));
        }
        String shown = "id:" + Base64.getUrlEncoder().withoutPadding().encodeToString(id);
        String bootstrap = "127.0.0.1:" + closed;
        try (NetnsPair net = NetnsPair.create()) {
            Path config = Files.writeString(tmp.resolve("endpoints.yaml"), """
                    endpoints:
                      - name: orders-kafka
                        bus: kafka
                        ports: [9092]
                        addresses: [%s/32]
                        admin: {bootstrap: "%s"}
                    """.formatted(net.serverIp(), bootstrap));
            try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                    "--metrics-address", "127.0.0.1:0").awaitStarted()) {
                Matcher url = Pattern.compile("metrics on (http://\\S+/metrics)").matcher(d.log());
                assertThat(url.find()).as(d.log()).isTrue();
                net.start(net.server(), "python3", "-c", SINK, net.serverIp());
                net.awaitListening(9092);
                Process producer = net.start(net.client(), "python3", "-c", PRODUCER, net.serverIp(),
                        java.util.HexFormat.of().formatHex(id));
                assertThat(new java.io.BufferedReader(new java.io.InputStreamReader(producer.getInputStream()))
                        .readLine()).isEqualTo("sent");

                String failure = "kafka topic names: endpoint orders-kafka (bootstrap " + bootstrap + "): ";
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (!d.log().contains(failure) && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(d.log()).as("the daemon says it could not ask").contains(failure)
                        .contains("topics stay shown by ID");
                // two more passes (5 s apart, each waiting up to 5 s on the broker): the same error is not logged again
                Thread.sleep(22_000);
                assertThat(d.process().isAlive()).as("the daemon runs on: %s", d.log()).isTrue();
                assertThat(d.log().lines().filter(l -> l.contains(failure)).count()).as(d.log()).isEqualTo(1);
                d.log().lines().filter(l -> l.contains("kafka topic")).forEach(l -> System.out.println("KafkaTopicNamesDaemonTest: " + l));

                String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.group(1))).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertThat(scrape).as("the topic, by ID").contains("busprobe_topic_sent_bytes_total{bus=\"kafka\","
                        + "endpoint=\"orders-kafka\",op=\"produce\",topic=\"" + shown + "\"}");
                Sh.stop(producer);
                assertThat(d.stop()).as("stops cleanly with a client that never connected: %s", d.log()).isZero();
            }
        }
    }
}
