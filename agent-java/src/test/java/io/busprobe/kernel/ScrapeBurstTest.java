package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 11, robustness: the metrics port bounds its concurrent requests. Five hundred scrapes
 * fired at once at a daemon with the launcher's heap, while connections churn in namespaces of
 * the test's own: the daemon stays up without an OutOfMemoryError, the ring drops nothing for
 * it, and a scrape afterwards is answered. The excess is answered 503 or refused at once.
 */
@Privileged
class ScrapeBurstTest {
    private static final int SCRAPES = 500;
    private static final int PORT = 7321;

    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-burst-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    /** The heap the launcher gives the daemon (agent-java/bin/busprobe), so the burst meets the real bound. */
    private static String launcherHeap() throws IOException {
        Matcher m = Pattern.compile("-Xmx\\S+").matcher(Files.readString(Path.of("bin/busprobe")));
        assertThat(m.find()).as("-Xmx in the launcher").isTrue();
        return m.group();
    }

    @Test
    void fiveHundredConcurrentScrapesCostNoDropsAndNoOutOfMemory() throws Exception {
        List<String> heap = List.of("env", "JAVA_TOOL_OPTIONS=" + launcherHeap());
        try (NetnsPair net = NetnsPair.create();
             BusprobeProcess.Daemon d = busprobe.startDaemon(heap, "run", "--metrics-address", "127.0.0.1:0",
                     "--summary-interval=1h").awaitStarted()) {
            URI uri = metricsUri(d);
            // records for the ring while the burst runs: connections opened and closed in the test's namespaces
            net.start(net.server(), "python3", "-c", """
                    import socket
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("0.0.0.0", %d)); s.listen(128)
                    while True: s.accept()[0].close()
                    """.formatted(PORT));
            net.awaitListening(PORT);
            Process churn = net.start(net.client(), "python3", "-c", """
                    import socket
                    for _ in range(3000):
                        c = socket.create_connection(("%s", %d), timeout=10); c.close()
                    print("done", flush=True)
                    """.formatted(net.serverIp(), PORT));
            long droppedBefore = dropped(scrape(uri));

            Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
            CountDownLatch go = new CountDownLatch(1);
            long started;
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < SCRAPES; i++) {
                    pool.submit(() -> {
                        go.await();
                        outcomes.computeIfAbsent(rawScrape(uri), k -> new AtomicLong()).incrementAndGet();
                        return null;
                    });
                }
                started = System.nanoTime();
                go.countDown();
            }
            long burstMillis = (System.nanoTime() - started) / 1_000_000;
            assertThat(churn.waitFor(120, TimeUnit.SECONDS)).as("connection churn finished").isTrue();
            System.out.println("ScrapeBurstTest: " + SCRAPES + " concurrent scrapes: " + outcomes + " in "
                    + burstMillis + " ms"); // reported, not asserted

            assertThat(d.process().isAlive()).as("daemon alive after the burst; log: %s", d.log()).isTrue();
            String after = scrape(uri);
            assertThat(dropped(after)).as("ring records dropped during the burst").isEqualTo(droppedBefore);
            assertThat(d.log()).doesNotContain("OutOfMemoryError");
            assertThat(outcomes.keySet()).as("every scrape answered 200 or 503, or refused: %s", outcomes)
                    .allMatch(k -> k.equals("200") || k.equals("503") || k.equals("refused"));
        }
    }

    /** One scrape on a connection of its own: the status code, or "refused" when the server closed it unanswered. */
    private static String rawScrape(URI uri) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 30_000);
            s.setSoTimeout(60_000);
            s.getOutputStream().write(("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] head = in.readNBytes(12); // "HTTP/1.1 200"
            if (head.length < 12) {
                return "refused";
            }
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return new String(head, 9, 3, StandardCharsets.US_ASCII);
        } catch (java.net.SocketTimeoutException e) {
            return "timeout";
        } catch (IOException e) {
            return "refused"; // reset by the server
        }
    }

    private static URI metricsUri(BusprobeProcess.Daemon d) {
        Matcher m = Pattern.compile("metrics on (http://\\S+/metrics)").matcher(d.log());
        assertThat(m.find()).as(d.log()).isTrue();
        return URI.create(m.group(1));
    }

    private static String scrape(URI uri) throws Exception {
        var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(uri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("scrape").isEqualTo(200);
        return r.body();
    }

    /** busprobe_records_dropped_total over every kind. */
    private static long dropped(String text) {
        Matcher m = Pattern.compile("(?m)^busprobe_records_dropped_total\\{[^}]*\\} (\\S+)$").matcher(text);
        long sum = 0;
        List<String> seen = new ArrayList<>();
        while (m.find()) {
            sum += (long) Double.parseDouble(m.group(1));
            seen.add(m.group());
        }
        assertThat(seen).as("busprobe_records_dropped_total series").isNotEmpty();
        return sum;
    }
}
