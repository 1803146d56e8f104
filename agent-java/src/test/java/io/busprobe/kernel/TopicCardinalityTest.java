package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A hundred thousand Redis channels on one lossy connection, against a real daemon: the kernel's
 * topic table (16,384 counters) fills and the channels past it count under other, the metrics keep
 * at most K + 1 series for the endpoint, their sum is the client namespace's TcpRetransSegs, the
 * reconcile gauge reads 0, and the daemon's resident memory grows by no more than its heap's room
 * to grow. (The budget is 150 MB in all; the agent already takes about 160 MB at idle on
 * the test host, BENCHMARKS.md, "agent RSS max, idle", so the test bounds what topics add.)
 */
@Privileged
class TopicCardinalityTest {
    private static final int CHANNELS = 100_000;
    private static final int TOP = 50;
    /** The launcher's heap may grow from -Xms16m to -Xmx64m; the topic maps themselves are kernel memory. */
    private static final long HEAP_ROOM_KB = 48 * 1024;

    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-topics-" + ProcessHandle.current().pid()));

    /** PUBLISH to ch-000000 .. ch-099999, 500 pipelined per write, each write's replies awaited. */
    private static final String PUBLISHER = """
            import socket, sys
            c = socket.create_connection((sys.argv[1], 6379), timeout=60)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            n, per = int(sys.argv[2]), 500
            for start in range(0, n, per):
                batch = b"".join(b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$9\\r\\nch-%06d\\r\\n$64\\r\\n%s\\r\\n" % (i, b"m" * 64)
                                 for i in range(start, min(n, start + per)))
                c.sendall(batch)
                got = b""
                while got.count(b"\\r\\n") < min(per, n - start):
                    d = c.recv(65536)
                    if not d:
                        sys.exit("redis closed the connection")
                    got += d
            print("done", flush=True)
            c.close()
            """;

    /** PUBLISH to ch-000000 .. ch-001999 again and again until the file argv[2] exists, 60 s at most. */
    private static final String REPUBLISHER = """
            import os, socket, sys, time
            c = socket.create_connection((sys.argv[1], 6379), timeout=60)
            end = time.time() + 60
            while not os.path.exists(sys.argv[2]) and time.time() < end:
                for start in range(0, 2000, 500):
                    c.sendall(b"".join(b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$9\\r\\nch-%06d\\r\\n$64\\r\\n%s\\r\\n" % (i, b"m" * 64)
                                       for i in range(start, start + 500)))
                    got = b""
                    while got.count(b"\\r\\n") < 500:
                        d = c.recv(65536)
                        if not d:
                            sys.exit("redis closed the connection")
                        got += d
            c.close()
            """;

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    @Test
    void aHundredThousandChannelsAreAtMostKPlusOneSeriesThatSumToTheKernelsCount(@TempDir Path tmp)
            throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: many-channels
                        bus: redis
                        ports: [6379]
                        addresses: [%s/32]
                    """.formatted(net.serverIp()));
            try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--config", config.toString(),
                    "--metrics-address", "127.0.0.1:0", "--topic-top", Integer.toString(TOP)).awaitStarted()) {
                Matcher url = Pattern.compile("metrics on (http://\\S+/metrics)").matcher(d.log());
                assertThat(url.find()).as(d.log()).isTrue();
                long rssStarted = rssKb(d.pid());
                long mibBefore = net.snmp(net.client(), "Tcp", "RetransSegs");
                net.start(net.server(), "redis-server", "--bind", net.serverIp(), "--port", "6379", "--save", "",
                        "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no");
                net.awaitListening(6379);
                net.nft(net.server(), "add rule inet bp input tcp dport 6379 numgen random mod 100 < 5 drop");
                Sh.Result pub = Sh.exec(600, NetnsPair.prefixed(net.client(), "python3", "-c", PUBLISHER,
                        net.serverIp(), Integer.toString(CHANNELS)));
                assertThat(pub.out()).as(pub.err()).contains("done");
                // the close's FIN may still be resent: counters are final once no connection can retransmit
                net.awaitNoConnections();
                long mib = net.snmp(net.client(), "Tcp", "RetransSegs") - mibBefore;

                String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.group(1)))
                        .build(), HttpResponse.BodyHandlers.ofString()).body();
                List<Long> retrans = values(scrape, "busprobe_topic_retransmitted_segments_total");
                List<Long> sent = values(scrape, "busprobe_topic_sent_bytes_total");
                List<Long> reconcile = values(scrape, "busprobe_topic_reconcile_segments");
                List<Long> endpoint = values(scrape,
                        "busprobe_endpoint_retransmitted_segments_total\\{[^}]*direction=\"client\"");
                long rss = rssKb(d.pid());
                System.out.printf("TopicCardinalityTest: TcpRetransSegs %d, %d retrans series summing to %d, "
                        + "%d sent series, reconcile %s, endpoint %s, RSS %d kB (%d kB at start)%n", mib, retrans.size(),
                        retrans.stream().mapToLong(Long::longValue).sum(), sent.size(), reconcile, endpoint, rss,
                        rssStarted);

                assertThat(mib).as("retransmitted segments under 5 %% loss").isGreaterThanOrEqualTo(10);
                assertThat(retrans).hasSizeBetween(2, TOP + 1);
                assertThat(sent).hasSameSizeAs(retrans);
                assertThat(retrans.stream().mapToLong(Long::longValue).sum()).isEqualTo(mib);
                assertThat(endpoint).containsExactly(mib);
                assertThat(reconcile).containsExactly(0L);
                // the CLI's view while channels go by: publishing again until the CLI has looked (60 s at most)
                Path stop = tmp.resolve("stop");
                Process again = new ProcessBuilder(NetnsPair.prefixed(net.client(), "python3", "-c", REPUBLISHER,
                        net.serverIp(), stop.toString())).redirectErrorStream(true).start();
                Sh.Result json;
                Sh.Result top;
                try {
                    json = busprobe.run("endpoints", "--by", "topic", "--json", "--window", "2s");
                    top = busprobe.run("top", "--by", "topic", "--iterations", "1", "--interval", "1s",
                            "--window", "1s");
                } finally {
                    Files.writeString(stop, "");
                    if (!again.waitFor(90, java.util.concurrent.TimeUnit.SECONDS)) {
                        again.destroyForcibly();
                    }
                }
                String againOut = new String(again.getInputStream().readAllBytes());
                assertThat(json.exit()).as(json.err()).isZero();
                assertThat(json.out()).as("republisher: %s", againOut).contains("\"endpoint\":\"many-channels\"", "\"topic\":\"ch-");
                // at most the default --topic-top 20 topics and other per endpoint
                assertThat(Pattern.compile("\"topic\":").matcher(json.out()).results().count())
                        .isBetween(1L, 21L);
                assertThat(top.exit()).as(top.err()).isZero();
                assertThat(top.out()).contains("TOPIC", "RETRANS", "SHARE");
                assertThat(rss - rssStarted).as("daemon RSS growth, kB (%d at start)", rssStarted)
                        .isLessThanOrEqualTo(HEAP_ROOM_KB);
            }
        }
    }

    /** The values of a family's series of endpoint many-channels (a metric name, or a regex up to its labels). */
    private static List<Long> values(String scrape, String family) {
        List<Long> out = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^" + (family.contains("{") ? family : Pattern.quote(family) + "\\{")
                + "[^}]*endpoint=\"many-channels\"[^}]*} (\\S+)$").matcher(scrape);
        while (m.find()) {
            out.add((long) Double.parseDouble(m.group(1)));
        }
        return out;
    }

    private static long rssKb(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        throw new AssertionError("no VmRSS for " + pid);
    }
}
