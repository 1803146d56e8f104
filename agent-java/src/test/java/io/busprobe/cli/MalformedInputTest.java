package io.busprobe.cli;

import io.busprobe.agent.DaemonLock;
import io.busprobe.maps.PinDir;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Issue 7, "hostile input": malformed config files and flags, each run through the real command
 * line in-process, each rejected with exit 2, one line naming the problem, and nothing started.
 *
 * <p><b>One line</b> means: stderr's first line is {@code busprobe: PROBLEM} and is the only line
 * that describes the problem. A config file error is exactly that one line. A flag error may be
 * followed by picocli's one-line did-you-mean ({@code Possible solutions: ...} or
 * {@code Did you mean: ...}) and must end with the one {@code Try 'busprobe CMD --help'.} line;
 * nothing else (no stack trace, no usage dump) and nothing on stdout.
 *
 * <p><b>Nothing half-applied.</b> No row may reach the kernel, and none needs root. Config rows run
 * {@code busprobe run --config FILE --events CANARY}: {@code RunCommand.call} parses the file
 * before {@code Daemon.start}, and the daemon's constructor opens the {@code --events} file before
 * it takes the lock in {@code /run}, loads a program or pins a map. So a canary file that still
 * does not exist afterwards shows the daemon never began, which is stronger and cheaper than
 * asking bpftool whether a program was loaded. Every row (flags too) also checks that the lock
 * file and pin directory this process's daemon would use did not appear. Flag rows that picocli rejects while
 * parsing are first checked to fail in {@code parseArgs}, so no {@code call()} can run; the few
 * checked inside {@code call()} are marked and are validated there before anything is opened.
 *
 * <p>The method timeout is a hang guard (a FIFO with no writer would block forever in open()),
 * not a timing assertion.
 */
class MalformedInputTest {
    @TempDir
    static Path dir;

    private static int files;

    /** How a row builds its config path. */
    @FunctionalInterface
    interface Setup {
        Path make(Path dir) throws IOException;
    }

    private static Setup text(String yaml) {
        return d -> Files.writeString(d.resolve("endpoints-" + files++ + ".yaml"), yaml);
    }

    private static Setup bytes(byte[] content) {
        return d -> Files.write(d.resolve("endpoints-" + files++ + ".yaml"), content);
    }

    private static Arguments config(String name, Setup setup, String... expected) {
        return arguments(Named.of(name, setup), List.of(expected));
    }

    private static String endpoints(int n) {
        return "endpoints:\n" + IntStream.rangeClosed(1, n)
                .mapToObj(i -> "  - {name: e" + i + ", bus: other, ports: [" + (10000 + i) + "]}\n")
                .collect(Collectors.joining());
    }

    private static String billionLaughs() {
        // ten levels of ten aliases each: 10^10 nodes if anything expanded it
        StringBuilder sb = new StringBuilder("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (int i = 1; i <= 10; i++) {
            String prev = "*a" + (i - 1);
            sb.append("a").append(i).append(": &a").append(i).append(" [")
                    .append(String.join(", ", java.util.Collections.nCopies(10, prev))).append("]\n");
        }
        return sb.append("endpoints: *a10\n").toString();
    }

    private static byte[] garbage() {
        byte[] b = new byte[4096];
        new Random(7).nextBytes(b);
        b[0] = 0;
        b[100] = 0;
        return b;
    }

    /** {@code {file}} in an expected fragment is the config path of the row. */
    static Stream<Arguments> badConfigs() {
        String ok = """
                endpoints:
                  - name: orders
                    bus: kafka
                """;
        return Stream.of(
                // wrong types
                config("ports is a string", text(ok + "    ports: abc\n"),
                        "{file}:4: 'ports' must be a list", "found 'abc'"),
                config("ports is a mapping", text(ok + "    ports: {a: 1}\n"),
                        "{file}:4: 'ports' must be a list", "found a mapping"),
                config("name is a list", text("endpoints:\n  - name: [a, b]\n    bus: kafka\n    ports: [1]\n"),
                        "{file}:2: 'name' must be a single value, found a list"),
                config("a port is a list", text(ok + "    ports: [[9092]]\n"),
                        "{file}:4: each item of 'ports' must be a single value, found a list"),
                config("port is a float", text(ok + "    ports: [9092.0]\n"),
                        "{file}:4: bad port '9092.0'"),
                config("port is hex", text(ok + "    ports: [0x2384]\n"),
                        "{file}:4: bad port '0x2384'"),
                config("endpoints is a string", text("endpoints: kafka\n"),
                        "{file}:1: 'endpoints' must be a list"),
                // unknown keys
                config("unknown top-level key", text(ok + "    ports: [9092]\nsettings: {}\n"),
                        "{file}:5: unknown key 'settings'", "endpoints"),
                config("unknown endpoint key, with did-you-mean",
                        text(ok + "    ports: [9092]\n    adress: [10.0.0.0/8]\n"),
                        "{file}:5: unknown key 'adress'; did you mean 'addresses'?"),
                config("duplicate key", text(ok + "    ports: [9092]\n    bus: redis\n"),
                        "{file}:5: duplicate key 'bus', first on line 3"),
                // numbers
                config("port 70000", text(ok + "    ports: [70000]\n"),
                        "{file}:4: port 70000 out of range; ports are 1..65535"),
                config("port 2^40", text(ok + "    ports: [1099511627776]\n"),
                        "{file}:4: bad port '1099511627776'; ports are numbers 1..65535"),
                config("negative port", text(ok + "    ports: [-1]\n"), "{file}:4: bad port '-1'"),
                config("port 0", text(ok + "    ports: [0]\n"), "{file}:4: port 0 out of range"),
                // addresses
                config("CIDR /33", text(ok + "    ports: [9092]\n    addresses: [10.0.0.0/33]\n"),
                        "{file}:5: bad prefix length in '10.0.0.0/33'; IPv4 lengths are 0..32"),
                config("octet 300", text(ok + "    ports: [9092]\n    addresses: [300.1.1.1/8]\n"),
                        "{file}:5: bad address '300.1.1.1/8'"),
                config("host bits set", text(ok + "    ports: [9092]\n    addresses: [10.1.2.3/8]\n"),
                        "{file}:5: address '10.1.2.3/8': host bits set, did you mean 10.0.0.0/8?"),
                config("IPv6 /129", text(ok + "    ports: [9092]\n    addresses: [\"::1/129\"]\n"),
                        "{file}:5: bad prefix length in '::1/129'; IPv6 lengths are 0..128"),
                config("address is garbage",
                        text(ok + "    ports: [9092]\n    addresses: [\"10.0.0.0/8; rm -rf /\"]\n"),
                        "{file}:5: bad prefix length in '10.0.0.0/8; rm -rf /'"),
                config("address is a host name", text(ok + "    ports: [9092]\n    addresses: [kafka-1.internal]\n"),
                        "{file}:5: bad address 'kafka-1.internal'"),
                // duplicates
                config("duplicate endpoint names", text(ok + "    ports: [9092]\n  - name: orders\n    bus: redis\n"
                                + "    ports: [6379]\n"),
                        "{file}:5: duplicate name 'orders', first used on line 2"),
                config("two endpoints with the same rule",
                        text(ok + "    ports: [9092]\n  - name: audit\n    bus: kafka\n"
                                + "    ports: [9092]\n"),
                        "{file}:7: endpoints 'orders' (line 4) and 'audit' both claim port 9092 with any address"),
                // empty and binary
                config("empty file", text(""), "{file}:1: empty file"),
                config("whitespace only", text("  \n\n   \n"), "{file}:1: empty file"),
                config("comments only", text("# endpoints: soon\n# - name: x\n"), "{file}:1: empty file"),
                config("binary garbage", bytes(garbage()), "{file}:1: not UTF-8 text (byte 0x"),
                config("NUL bytes in UTF-8 text", text("endpoints:\0\0\0\n"),
                        "{file}:1: invalid YAML: special characters are not allowed (U+0000)"),
                config("invalid UTF-8",
                        bytes(("endpoints:\n  - name: caf" + "\u00e9").getBytes(StandardCharsets.ISO_8859_1)),
                        "{file}:2: not UTF-8 text (byte 0xe9 at offset 24); save it as UTF-8"),
                config("UTF-16", bytes("endpoints: []\n".getBytes(StandardCharsets.UTF_16)),
                        "{file}:1: not UTF-8 text (byte 0xfe at offset 0)"),
                config("control character in a name is shown escaped", text(ok.replace("orders", "\"ord\\ners\"")
                                + "    ports: [1]\n"),
                        "{file}:2: bad name 'ord\\ners'"),
                config("unknown key with a newline in it", text(ok + "    ports: [1]\n    \"por\\nts\": 2\n"),
                        "{file}:5: unknown key 'por\\nts'"),
                // size and shape
                config("billion laughs", text(billionLaughs()),
                        "{file}:7: more than 50 aliases (*name)"),
                config("recursive alias", text("endpoints: &e [*e]\n"),
                        "{file}:1: an endpoint must be a mapping"),
                config("64 endpoints", text(endpoints(64)), "{file}:65: too many endpoints; at most 63"),
                config("more rules than the LPM trie holds", text("endpoints:\n  - name: big\n    bus: kafka\n"
                                + "    ports: [" + IntStream.rangeClosed(1, 4097).mapToObj(Integer::toString)
                                .collect(Collectors.joining(", ")) + "]\n"),
                        "{file}:2: too many rules", "at most 4096"),
                config("deeply nested", text("endpoints: " + "[".repeat(100_000) + "]".repeat(100_000) + "\n"),
                        "{file}:1: nested more than"),
                config("a file larger than 1 MiB", text("#" + "x".repeat(1 << 20) + "\n"),
                        "{file}: larger than 1 MiB"),
                config("a 100000-character name", text("endpoints:\n  - name: " + "a".repeat(100_000)
                                + "\n    bus: kafka\n    ports: [1]\n"),
                        "{file}:2: bad name 'aaaa", "...'"),
                config("tab indentation", text("endpoints:\n\t- name: orders\n"),
                        "{file}:2: invalid YAML", "Do not use \\t(TAB) for indentation"),
                config("unknown bus", text("endpoints:\n  - name: orders\n    bus: zeromq\n    ports: [1]\n"),
                        "{file}:3: unknown bus 'zeromq'; choose kafka, redis, nats, amqp, http or other"),
                config("name that would break a Prometheus label", text("endpoints:\n  - name: 'a\"} 1\\n'\n"
                                + "    bus: kafka\n    ports: [1]\n"),
                        "{file}:2: bad name 'a\"} 1\\n'"),
                // paths
                config("a directory", d -> Files.createDirectories(d.resolve("conf.d")), "{file}: is a directory"),
                config("no such file", d -> d.resolve("missing.yaml"), "{file}: no such file"),
                config("dangling symlink", d -> Files.createSymbolicLink(d.resolve("link-" + files++ + ".yaml"),
                        d.resolve("gone.yaml")), "{file}: a symbolic link to ", "gone.yaml, which does not exist"),
                config("path through a file", d -> text("x").make(d).resolve("x.yaml"),
                        "{file}: no such file", "is not a directory"),
                config("a FIFO (would block in open)", MalformedInputTest::fifo, "{file}: not a regular file"),
                config("/dev/zero (endless)", d -> Path.of("/dev/zero"), "/dev/zero: not a regular file"),
                config("a file the kernel refuses to read (EIO, even for root)", d -> Path.of("/proc/self/mem"),
                        "/proc/self/mem: cannot read: Input/output error"));
        // a mode-000 file: root reads it anyway, so that row runs as nobody in kernel.LifecycleTest
    }

    private static Path fifo(Path d) throws IOException {
        Path p = d.resolve("fifo-" + files++);
        try {
            Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
            if (!mk.waitFor(10, TimeUnit.SECONDS) || mk.exitValue() != 0) {
                throw new IOException("mkfifo " + p + " failed");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return p;
    }


    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigs")
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void badConfigFileExits2BeforeAnythingStarts(Setup setup, List<String> expected) throws IOException {
        Path file = setup.make(dir);
        Path canary = dir.resolve("events-" + files++ + ".jsonl");
        Set<String> before = footprint();

        CliRun r = CliRun.execute("run", "--config", file.toString(), "--events", canary.toString(),
                "--metrics-address", "127.0.0.1:0");

        assertUsageError(r, expected.stream().map(e -> e.replace("{file}", file.toString())).toList(), false);
        assertThat(canary).as("--events canary: the daemon never began").doesNotExist();
        assertThat(footprint()).as("lock files and pin directory").isEqualTo(before);
    }

    /** The same check in trace, which loads the file before its session. */
    @ParameterizedTest(name = "trace: {0}")
    @MethodSource("badConfigs")
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void traceRejectsTheSameFiles(Setup setup, List<String> expected) throws IOException {
        Path file = setup.make(dir);
        Set<String> before = footprint();
        CliRun r = CliRun.execute("trace", "--config", file.toString());
        assertUsageError(r, expected.stream().map(e -> e.replace("{file}", file.toString())).toList(), false);
        assertThat(footprint()).isEqualTo(before);
    }

    // flags

    private static Arguments flags(String name, List<String> args, String... expected) {
        return arguments(Named.of(name, args), true, List.of(expected));
    }

    /** A row that picocli parses and the command's call() rejects before it opens anything. */
    private static Arguments checkedInCall(String name, List<String> args, String... expected) {
        return arguments(Named.of(name, args), false, List.of(expected));
    }

    static Stream<Arguments> badFlags() {
        return Stream.of(
                flags("--ring-size negative", List.of("run", "--ring-size", "-4K"), "--ring-size", "-4K"),
                flags("--ring-size zero", List.of("run", "--ring-size", "0"), "--ring-size", "power of two"),
                flags("--ring-size not a power of two", List.of("run", "--ring-size", "3M"),
                        "--ring-size", "ring size 3M must be a power of two between 4K and 1G"),
                flags("--ring-size 1T", List.of("trace", "--ring-size", "1T"), "--ring-size", "'1T'"),
                flags("--ring-size garbage suffix", List.of("run", "--ring-size", "8Mx"),
                        "--ring-size", "'8Mx' is not a size"),
                flags("--ring-size 2^64 bytes", List.of("run", "--ring-size", "99999999999999999999"),
                        "--ring-size", "too large"),
                flags("--poll-interval 0", List.of("run", "--poll-interval", "0"),
                        "--poll-interval", "must be between 1 and 1000 ms, got 0"),
                flags("--poll-interval 5000", List.of("trace", "--poll-interval", "5000"),
                        "--poll-interval", "must be between 1 and 1000 ms, got 5000"),
                flags("--poll-interval abc", List.of("run", "--poll-interval", "abc"),
                        "--poll-interval", "'abc' is not a whole number; use 1..1000 ms"),
                flags("--duration -5s", List.of("trace", "--duration", "-5s"), "--duration", "'-5s' is not a duration"),
                flags("--duration 1x", List.of("trace", "--duration", "1x"), "--duration", "'1x' is not a duration"),
                flags("--duration 99999999999h", List.of("trace", "--duration", "99999999999h"),
                        "--duration", "'99999999999h' is too long"),
                flags("--summary-interval 99999999999h", List.of("run", "--summary-interval", "99999999999h"),
                        "--summary-interval", "too long"),
                flags("--summary-interval 0", List.of("run", "--summary-interval", "0"),
                        "--summary-interval", "'0' is too short; at least 1s"),
                flags("--metrics-address without a port", List.of("run", "--metrics-address", "127.0.0.1"),
                        "--metrics-address", "HOST:PORT", "'127.0.0.1'"),
                flags("--metrics-address port 70000", List.of("run", "--metrics-address", "127.0.0.1:70000"),
                        "--metrics-address", "port must be 0..65535", "70000"),
                flags("--metrics-address port abc", List.of("run", "--metrics-address", "0.0.0.0:abc"),
                        "--metrics-address", "port must be 0..65535", "abc"),
                flags("--metrics-address IPv6 without brackets", List.of("run", "--metrics-address", "::1:19477"),
                        "--metrics-address", "brackets", "[::1]:19477"),
                flags("--metrics-address host with a space", List.of("run", "--metrics-address", "local host:19477"),
                        "--metrics-address", "'local host'"),
                flags("--metrics-address bracketed non-IPv6", List.of("run", "--metrics-address", "[kafka]:19477"),
                        "--metrics-address", "'[kafka]' is not an IPv6 address in brackets"),
                flags("sample --every negative", List.of("sample", "--every", "-5"),
                        "--every", "between 1 and 1000000", "-5"),
                flags("sample --every 0", List.of("sample", "--kind", "state", "--every", "0"),
                        "--every", "between 1 and 1000000", "0"),
                flags("sample --burst 0", List.of("sample", "--rate", "10", "--burst", "0"),
                        "--burst", "between 1 and 1000000"),
                flags("sample --rate garbage", List.of("sample", "--rate", "lots"),
                        "--rate", "'lots' is not a rate"),
                flags("sample --rate too high", List.of("sample", "--rate", "99999999999"),
                        "--rate", "must be between 1 and 10000000"),
                flags("sample --rate 0 is not unlimited", List.of("sample", "--rate", "0"),
                        "--rate", "must be between 1 and 10000000 records/s, got 0", "'unlimited'"),
                checkedInCall("sample --kind unknown", List.of("sample", "--kind", "retransmits", "--off"),
                        "unknown kind 'retransmits'"),
                flags("sample --watermark too small", List.of("sample", "--watermark", "1"),
                        "--watermark", "watermark 1 must be between 4K and 1G"),
                flags("sample --watermark 2G", List.of("sample", "--watermark", "2G"),
                        "--watermark", "must be between 4K and 1G"),
                checkedInCall("sample --emit maybe", List.of("sample", "--emit", "maybe"), "--emit takes on or off"),
                flags("top --iterations negative", List.of("top", "--iterations", "-1"),
                        "--iterations", "between 1 and"),
                flags("endpoints --window 0", List.of("endpoints", "--window", "0"),
                        "--window", "'0' is too short; at least 1ms"),
                flags("endpoints --window 25h", List.of("endpoints", "--window", "25h"),
                        "--window", "'25h' is too long; at most 24h"),
                flags("top --interval 50ms", List.of("top", "--interval", "50ms"),
                        "--interval", "'50ms' is too short; at least 100ms"),
                flags("trace --kinds kind:retransmit", List.of("trace", "--kinds", "kind:retransmit"),
                        "--kinds", "'kind:retransmit' is one kind; trace loads whole families"),
                flags("unknown flag", List.of("run", "--sumary-interval", "10s"),
                        "Unknown option", "--sumary-interval"),
                flags("missing option value", List.of("trace", "--duration"),
                        "Missing required parameter", "--duration"),
                flags("missing --config value", List.of("run", "--config"), "Missing required parameter", "--config"),
                flags("empty --config", List.of("run", "--config", ""), "--config", "empty path"),
                flags("--config with a NUL", List.of("trace", "--config", "a\0b.yaml"),
                        "--config", "'a\\u0000b.yaml' is not a path"),
                flags("--duration with a newline", List.of("trace", "--duration", "5s\nrm"),
                        "--duration", "'5s\\nrm'"),
                flags("trace --kinds unknown", List.of("trace", "--kinds", "retransmit,tls"),
                        "--kinds", "unknown kind 'tls'"),
                flags("a stray argument", List.of("status", "now"), "now"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badFlags")
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void badFlagExits2BeforeAnythingStarts(List<String> args, boolean rejectedByParser, List<String> expected) {
        String[] argv = args.toArray(String[]::new);
        if (rejectedByParser) {
            // guard: no call() runs, so no map is opened and no program loaded
            assertThatThrownBy(() -> BusprobeCommand.commandLine().parseArgs(argv))
                    .isInstanceOf(ParameterException.class);
        }
        Set<String> before = footprint();
        CliRun r = CliRun.execute(argv);
        assertUsageError(r, expected, true);
        assertThat(footprint()).as("lock files and pin directory").isEqualTo(before);
    }

    // harness

    private static void assertUsageError(CliRun r, List<String> expected, boolean flag) {
        String err = r.err();
        List<String> lines = r.errLines();
        assertThat(r.exitCode()).as("exit code; stderr: %s", err).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(r.out()).as("stdout").isEmpty();
        assertThat(lines).as("stderr").isNotEmpty();
        String first = lines.getFirst();
        assertThat(first).startsWith("busprobe: ");
        for (String e : expected) {
            assertThat(first).as("first line of stderr").contains(e);
        }
        assertThat(err).as("no stack trace").doesNotContain("\tat ", "Exception", "Error:");
        assertThat(first.length()).as("a readable line").isLessThan(400);
        if (!flag) {
            assertThat(lines).as("a config error is one line").hasSize(1);
            return;
        }
        assertThat(lines.getLast()).matches("Try 'busprobe [a-z ]+ --help'\\.");
        List<String> middle = lines.subList(1, lines.size() - 1);
        assertThat(middle).as("only a did-you-mean between the error and the Try line").hasSizeLessThanOrEqualTo(1)
                .allSatisfy(l -> assertThat(l).matches("(Possible solutions|Did you mean): .*"));
    }

    /**
     * What a daemon started from this process would leave behind: its lock in /run and its pin
     * directory. Only these two paths, not every busprobe lock: other test runs on the same
     * machine take locks of their own pin directories meanwhile. Where a path exists already (a
     * daemon runs on this machine), this check cannot see a difference and the canary is the proof.
     */
    private static Set<String> footprint() {
        Path pins = PinDir.resolve();
        Set<String> out = new TreeSet<>();
        for (Path p : List.of(lockPath(pins), pins)) {
            out.add(p + (Files.exists(p) ? " exists" : " absent"));
        }
        return out;
    }

    /** The daemon's own rule for where its lock lives, not a copy. */
    private static Path lockPath(Path pinDir) {
        return DaemonLock.path(pinDir);
    }
}
