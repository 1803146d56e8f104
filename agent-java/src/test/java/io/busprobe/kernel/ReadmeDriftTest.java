package io.busprobe.kernel;

import io.busprobe.event.EventKind;
import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's metrics table and log lines against a real daemon's scrape and log, so that the
 * two cannot drift apart again (issue 15 found the log format, the {@code program} label's values
 * and more out of date). Every {@code busprobe_*} family the daemon serves is in the table with
 * its type and labels, and nothing in the table is missing from the scrape; the {@code program}
 * values the README lists are the programs the daemon runs; the example log lines have the shape
 * of the lines the daemon writes.
 */
@Privileged
class ReadmeDriftTest {
    private static final Path README = Path.of(System.getProperty("user.dir")).resolve("../README.md");
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-readme-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    /** A metric family: its type and label names. */
    record Family(String type, Set<String> labels) {
    }

    @Test
    void readmeMetricsAndLogLinesAreWhatTheDaemonServesAndWrites() throws Exception {
        String readme = Files.readString(README);
        String scrape;
        List<String> log;
        // as README's example runs: every interface (on a port of the kernel's choice), the default
        // summary interval, whose first summary comes after 10 s
        try (BusprobeProcess.Daemon d = busprobe.startDaemon("run", "--metrics-address", ":0").awaitStarted()) {
            Matcher url = Pattern.compile("metrics on (http://localhost:\\d+/metrics) \\(every interface\\)")
                    .matcher(d.log());
            assertThat(url.find()).as("the start-up names the metrics URL: %s", d.log()).isTrue();
            // busprobe_packet_drops_total exports only reasons seen: make sure one was (a datagram to a
            // closed loopback port is a NO_SOCKET drop), then scrape until it shows (at most 10 s)
            scrape = "";
            for (int i = 0; i < 100 && !scrape.contains("\nbusprobe_packet_drops_total{"); i++) {
                try (java.net.DatagramSocket s = new java.net.DatagramSocket()) {
                    s.send(new java.net.DatagramPacket(new byte[1], 1, InetAddress.getLoopbackAddress(), 9));
                }
                scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url.group(1))).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                if (!scrape.contains("\nbusprobe_packet_drops_total{")) {
                    Thread.sleep(100);
                }
            }
            for (int i = 0; i < 300 && d.log().lines().noneMatch(ReadmeDriftTest::isSummary); i++) {
                Thread.sleep(100);
            }
            log = d.log().lines().toList();
        }

        // the metrics table
        Map<String, Family> documented = documentedFamilies(readme);
        Map<String, Family> served = servedFamilies(scrape);
        assertThat(new TreeSet<>(documented.keySet())).as("README metrics table vs /metrics")
                .isEqualTo(new TreeSet<>(served.keySet()));
        served.forEach((name, f) -> assertThat(documented.get(name)).as(name).isEqualTo(f));

        // the program label's values
        Matcher programs = Pattern.compile("`program` \\(([^)]*)\\)").matcher(readme);
        assertThat(programs.find()).as("README names the program label's values").isTrue();
        Set<String> listed = new TreeSet<>();
        Matcher name = Pattern.compile("`(\\w+)`").matcher(programs.group(1));
        while (name.find()) {
            listed.add(name.group(1));
        }
        Set<String> running = new TreeSet<>();
        Matcher label = Pattern.compile("(?m)^busprobe_probe_attached\\{program=\"(\\w+)\"").matcher(scrape);
        while (label.find()) {
            running.add(label.group(1));
        }
        assertThat(listed).as("program values in README").isEqualTo(running);
        assertThat(programs.group(1)).contains("the " + words(running.size()) + " ");

        // the log lines: the example's shape is the daemon's
        List<String> example = logExample(readme);
        assertThat(example).as("README's example log").hasSizeGreaterThanOrEqualTo(4);
        String realSummary = log.stream().filter(ReadmeDriftTest::isSummary).findFirst().orElseThrow(
                () -> new AssertionError("no summary line in " + log));
        String exampleSummary = example.stream().filter(ReadmeDriftTest::isSummary).findFirst().orElseThrow(
                () -> new AssertionError("no summary line in README's example " + example));
        assertThat(summaryShape(exampleSummary)).as("README's summary line %s vs the daemon's %s", exampleSummary,
                realSummary).isEqualTo(summaryShape(realSummary));
        for (String line : example) {
            assertThat(line).matches("\\S+ busprobe: .*");
            Instant.parse(line.substring(0, line.indexOf(' ')));
        }
        for (String start : List.of("started, ", "metrics on http://", "look with 'busprobe status'")) {
            String real = log.stream().filter(l -> l.contains(" busprobe: " + start)).findFirst().orElseThrow(
                    () -> new AssertionError("no '" + start + "' line in " + log));
            String doc = example.stream().filter(l -> l.contains(" busprobe: " + start)).findFirst().orElseThrow(
                    () -> new AssertionError("no '" + start + "' line in README's example"));
            assertThat(fields(doc)).as("%s vs %s", doc, real).isEqualTo(fields(real));
        }
        // the numbers the wording check takes out but a reader takes in: the probe count, and the
        // first summary's delay (10 s, not the 1 min interval; 20 s leaves room for a loaded host)
        Pattern probes = Pattern.compile("started, (\\d+/\\d+) probes attached");
        String realStart = log.stream().filter(l -> l.contains(" busprobe: started, ")).findFirst().orElseThrow();
        String docStart = example.stream().filter(l -> l.contains(" busprobe: started, ")).findFirst().orElseThrow();
        Matcher realProbes = probes.matcher(realStart);
        Matcher docProbes = probes.matcher(docStart);
        assertThat(realProbes.find() && docProbes.find()).as("probe counts in %s and %s", realStart, docStart).isTrue();
        assertThat(docProbes.group(1)).as("README's started line vs the daemon's").isEqualTo(realProbes.group(1));
        Instant started = Instant.parse(realStart.substring(0, realStart.indexOf(' ')));
        Instant summarised = Instant.parse(realSummary.substring(0, realSummary.indexOf(' ')));
        assertThat(java.time.Duration.between(started, summarised)).as("the first summary after the start")
                .isLessThanOrEqualTo(java.time.Duration.ofSeconds(20));
    }

    private static String words(int n) {
        return List.of("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
                "twenty").get(n);
    }

    private static boolean isSummary(String line) {
        return line.contains(" busprobe: ") && line.contains(" degraded=") && !line.contains("stopping: ");
    }

    /**
     * The keys of a summary line and the form of each value: kinds (in kind order, whichever were
     * seen) as one key, then the fixed keys in order. {@code retransmit=5 state=12 connections=3
     * read=17 dropped=0 pending=0B degraded=no} is {@code [KINDS, connections=N, read=N, dropped=N,
     * pending=NB, degraded=yes|no]}.
     */
    private static List<String> summaryShape(String line) {
        String body = line.substring(line.indexOf(" busprobe: ") + " busprobe: ".length());
        int advice = body.indexOf("; ");
        if (advice >= 0) {
            body = body.substring(0, advice);
        }
        List<String> shape = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        for (EventKind k : EventKind.values()) {
            kinds.add(k.label());
        }
        int lastKind = -1;
        for (String token : body.split(" ")) {
            String[] kv = token.split("=", 2);
            assertThat(kv).as("key=value in %s", line).hasSize(2);
            int k = kinds.indexOf(kv[0]);
            if (k >= 0) {
                assertThat(k).as("kinds in kind order in %s", line).isGreaterThan(lastKind);
                assertThat(kv[1]).matches("\\d+");
                lastKind = k;
                if (!shape.contains("KINDS")) {
                    shape.add("KINDS");
                }
                continue;
            }
            shape.add(kv[0] + "=" + kv[1].replaceAll("\\d+", "N").replaceAll("^(yes|no)$", "yes|no"));
        }
        return shape;
    }

    /**
     * A start-up line with its numbers, paths, URLs and parentheses (the pin directory a test daemon
     * names, the default endpoints) taken out: what stays is its wording.
     */
    private static String fields(String line) {
        return line.substring(line.indexOf(" busprobe: "))
                .replaceAll("http://\\S+/metrics", "URL")
                .replaceAll(" ?\\([^)]*\\)", "")
                .replaceAll("/\\S+", "PATH")
                .replaceAll("\\d+", "N");
    }

    /** The fenced block after "A daemon's log" in README: its lines. */
    private static List<String> logExample(String readme) {
        Matcher m = Pattern.compile("(?s)A daemon's log[^\\n]*\\n(?:[^`]*\\n)?```\\n(.*?)```").matcher(readme);
        assertThat(m.find()).as("README has an example log after \"A daemon's log\"").isTrue();
        return m.group(1).lines().filter(l -> !l.isBlank()).toList();
    }

    /** Rows of the README's metrics table, names expanded ({@code a_{x,y}_total}, "`a`, `b`"). */
    static Map<String, Family> documentedFamilies(String readme) {
        int table = readme.indexOf("| metric | type | labels | what |");
        assertThat(table).as("README's metrics table").isPositive();
        Map<String, Family> out = new TreeMap<>();
        for (String row : readme.substring(table).lines().skip(2).takeWhile(l -> l.startsWith("|")).toList()) {
            String[] cells = row.split("\\|");
            String names = cells[1].strip();
            if (names.contains("*")) {
                continue; // jvm_*, process_*: the client library's, not busprobe's
            }
            String type = cells[2].strip();
            Set<String> labels = new TreeSet<>();
            for (String l : cells[3].split(",")) {
                if (!l.isBlank()) {
                    labels.add(l.strip());
                }
            }
            Matcher n = Pattern.compile("`([^`]+)`").matcher(names);
            while (n.find()) {
                for (String expanded : expand(n.group(1))) {
                    out.put(expanded, new Family(type, labels));
                }
            }
        }
        return out;
    }

    private static List<String> expand(String name) {
        Matcher b = Pattern.compile("\\{([^}]*)}").matcher(name);
        if (!b.find()) {
            return List.of(name);
        }
        List<String> out = new ArrayList<>();
        for (String alt : b.group(1).split(",")) {
            out.addAll(expand(name.substring(0, b.start()) + alt + name.substring(b.end())));
        }
        return out;
    }

    /** The {@code busprobe_*} families of a text-format scrape, with the label names of their samples. */
    static Map<String, Family> servedFamilies(String scrape) {
        Map<String, String> types = new LinkedHashMap<>();
        Matcher t = Pattern.compile("(?m)^# TYPE (busprobe_\\w+) (\\w+)$").matcher(scrape);
        while (t.find()) {
            types.put(t.group(1), t.group(2));
        }
        Map<String, Family> out = new TreeMap<>();
        types.forEach((family, type) -> {
            Set<String> labels = new TreeSet<>();
            Matcher s = Pattern.compile("(?m)^" + Pattern.quote(family) + "(?:_bucket|_count|_sum|_created)?\\{([^}]*)}")
                    .matcher(scrape);
            while (s.find()) {
                Matcher l = Pattern.compile("(\\w+)=\"").matcher(s.group(1));
                while (l.find()) {
                    if (!l.group(1).equals("le")) {
                        labels.add(l.group(1));
                    }
                }
            }
            out.put(family, new Family(type, labels));
        });
        return out;
    }
}
