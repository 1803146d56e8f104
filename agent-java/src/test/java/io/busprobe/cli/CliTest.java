package io.busprobe.cli;

import io.busprobe.event.EventKind.Family;
import io.busprobe.ffi.NativeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Command-line parsing, help and usage errors. Nothing here loads BPF: good
 * command lines are only parsed, and a command line is only executed when it
 * is known to fail before any command's {@code call()} runs.
 */
class CliTest {

    private static CliRun execute(String... args) {
        return CliRun.execute(args);
    }

    private static ParseResult parse(String... args) {
        return BusprobeCommand.commandLine().parseArgs(args);
    }

    @SuppressWarnings("unchecked")
    private static <T> T subcommand(ParseResult pr) {
        assertThat(pr.hasSubcommand()).isTrue();
        return (T) pr.subcommand().commandSpec().userObject();
    }

    // help and version

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h"})
    void helpListsCommandsAndExamples(String flag) {
        CliRun r = execute(flag);
        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).startsWith("NAME\n  busprobe - ")
                .contains("SYNOPSIS\n  busprobe [-hV] COMMAND")
                .contains("COMMANDS")
                .containsPattern("(?m)^\\s+trace\\s")
                .containsPattern("(?m)^\\s+run\\s")
                .containsPattern("(?m)^\\s+check\\s")
                .contains("EXAMPLES")
                .contains("busprobe trace --duration 30s --kinds retransmit,reset")
                .contains("EXIT STATUS")
                .contains("--version");
    }

    @Test
    void traceHelpShowsItsOptionsAndExamples() {
        CliRun r = execute("trace", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
        assertThat(r.out()).startsWith("NAME\n  busprobe trace - ").contains("SYNOPSIS\n  busprobe trace")
                .contains("--duration=D", "--kinds=LIST", "--json", "--ring-size=SIZE", "--poll-interval=MS")
                .contains("EXAMPLES")
                .contains("busprobe trace --duration 10s --kinds retransmit")
                .contains("busprobe trace --json --kinds reset,state");
        assertThat(r.outFlat()).contains("(default: all)", "(default: 8M)", "(default: 2)")
                .contains("retransmit, state, reset, pressure, drop, or all")
                .contains("kind, ts_ns, family, saddr, sport, daddr, dport, state, pid, comm");
    }

    @Test
    void runHelpShowsItsOptionsAndExamples() {
        CliRun r = execute("run", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("NAME\n  busprobe run - ")
                .contains("--summary-interval=D", "--duration=D", "--ring-size=SIZE")
                .contains("EXAMPLES", "busprobe run --summary-interval 10s --ring-size 16M");
        assertThat(r.outFlat()).contains("(default: 60s)", "(default: 8M)", "--socket-table-size=N",
                "(default: 64K, 65536)");
    }

    @Test
    void checkHelp() {
        CliRun r = execute("check", "--help");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("NAME\n  busprobe check - ").contains("EXAMPLES", "busprobe check");
    }

    /** Every command, nested ones included, reads like a man page and shows how it is used. */
    @Test
    void everyCommandsHelpIsAManPageWithExamples() {
        java.util.List<String> commands = new java.util.ArrayList<>();
        collect(BusprobeCommand.commandLine(), commands);
        assertThat(commands).contains("busprobe", "busprobe run", "busprobe endpoints reload",
                "busprobe generate-completion").hasSizeGreaterThanOrEqualTo(10);
        for (String command : commands) {
            String[] args = (command.replaceFirst("^busprobe ?", "") + " --help").strip().split(" ");
            CliRun r = execute(args);
            assertThat(r.exitCode()).as(command).isZero();
            assertThat(r.out()).as(command + " --help")
                    .startsWith("NAME\n  " + command + " - ")
                    .contains("\nSYNOPSIS\n  " + command, "\nDESCRIPTION\n", "\nOPTIONS\n", "\nEXAMPLES\n")
                    .containsPattern("(?m)^  (sudo )?(source <\\()?busprobe .*$");
            assertThat(r.out().lines().filter(l -> l.length() > 80)).as(command + ": lines over 80 columns").isEmpty();
        }
    }

    private static void collect(picocli.CommandLine cl, java.util.List<String> into) {
        into.add(cl.getCommandSpec().qualifiedName());
        for (picocli.CommandLine sub : cl.getSubcommands().values()) {
            collect(sub, into);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"--version", "-V"})
    void versionNamesBusprobe(String flag) {
        CliRun r = execute(flag);
        assertThat(r.exitCode()).isZero();
        assertThat(r.err()).isEmpty();
        List<String> lines = r.out().lines().toList();
        assertThat(lines.getFirst()).startsWith("busprobe ").doesNotContain("${");
        assertThat(r.out()).contains("Java " + Runtime.version().feature());
    }

    /** Main bug: subcommands offer -V/--version but have no version provider, so they print nothing. */
    @Test
    void subcommandVersion() {
        CliRun r = execute("trace", "--version");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).startsWith("busprobe ");
    }

    // completion and kind names

    @Test
    void completionOffersKindAndFamilyNamesAsTheDocsWriteThem() {
        CliRun r = execute("generate-completion");
        assertThat(r.exitCode()).isZero();
        assertThat(r.out()).contains("(\"retransmit\" \"state\" \"reset\" \"pressure\" \"drop\" \"all\") # --kinds values")
                .contains("\"retransmit_synack\"", "\"exceed_buf_limit\"", "\"kind:retransmit\" \"all\") # --kind values")
                .doesNotContain("RETRANSMIT", "PRESSURE", "DROP\"");
    }

    @Test
    void aKindCanBeNamedAloneWhereItsFamilyHasItsName() {
        assertThat(io.busprobe.event.EventKind.named("retransmit")).as("the family, as old scripts expect")
                .containsExactlyInAnyOrder(io.busprobe.event.EventKind.RETRANSMIT,
                        io.busprobe.event.EventKind.RETRANSMIT_SYNACK, io.busprobe.event.EventKind.RETRANSMIT_FAILED);
        assertThat(io.busprobe.event.EventKind.named("kind:retransmit"))
                .containsExactly(io.busprobe.event.EventKind.RETRANSMIT);
        assertThat(io.busprobe.event.EventKind.named(" Family:Reset ")).containsExactlyInAnyOrder(
                io.busprobe.event.EventKind.RESET_SENT, io.busprobe.event.EventKind.RESET_RECEIVED);
        assertThat(io.busprobe.event.EventKind.named("kind:reset")).as("no kind is called reset").isEmpty();
        assertThat(Family.named("family:pressure")).containsExactly(Family.PRESSURE);
    }

    // usage errors: exit 2, the first line names the problem, nothing on stdout

    static Stream<Arguments> badCommandLines() {
        return Stream.of(
                Arguments.of(List.of("trace", "--duration", "5x"), List.of("--duration", "'5x' is not a duration")),
                Arguments.of(List.of("trace", "-d", "1.5.5s"), List.of("--duration", "'1.5.5s'")),
                Arguments.of(List.of("trace", "--kinds", "retransmit,bogus"), List.of("--kinds", "unknown kind 'bogus'")),
                Arguments.of(List.of("trace", "-k", ""), List.of("--kinds", "unknown kind ''")),
                Arguments.of(List.of("trace", "--ring-size", "3000"),
                        List.of("--ring-size", "ring size 3000 must be a power of two")),
                Arguments.of(List.of("trace", "--ring-size", "2G"), List.of("--ring-size", "between 4K and 1G")),
                Arguments.of(List.of("trace", "--ring-size", "lots"), List.of("--ring-size", "'lots' is not a size")),
                Arguments.of(List.of("trace", "--poll-interval", "fast"), List.of("--poll-interval", "fast")),
                Arguments.of(List.of("trace", "--bogus"), List.of("Unknown option", "--bogus")),
                Arguments.of(List.of("trace", "-d"), List.of("Missing required parameter", "--duration")),
                Arguments.of(List.of("trace", "extra"), List.of("extra")),
                Arguments.of(List.of("run", "--summary-interval", "soon"), List.of("--summary-interval", "'soon'")),
                Arguments.of(List.of("run", "--ring-size", "1000"), List.of("--ring-size", "power of two")),
                Arguments.of(List.of("run", "--socket-table-size", "0"),
                        List.of("--socket-table-size", "0 must be between 64 and 16M entries")),
                Arguments.of(List.of("run", "--socket-table-size", "63"),
                        List.of("--socket-table-size", "63 must be between 64 and 16M entries")),
                Arguments.of(List.of("run", "--socket-table-size", "17M"),
                        List.of("--socket-table-size", "17M must be between 64 and 16M entries")),
                Arguments.of(List.of("run", "--socket-table-size", "abc"),
                        List.of("--socket-table-size", "'abc' is not a count", "between 64 and 16M")),
                Arguments.of(List.of("check", "--json"), List.of("Unknown option", "--json")),
                Arguments.of(List.of("bogus"), List.of("'bogus'")),
                Arguments.of(List.of(), List.of("a command is required", "trace", "run", "check", "generate-completion")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badCommandLines")
    void badCommandLineExits2WithOneLineNamingTheProblem(List<String> args, List<String> expected) {
        String[] argv = args.toArray(String[]::new);
        if (!args.isEmpty()) {
            // guard: this must fail in the parser, so no command's call() (and no BPF load) can run
            assertThatThrownBy(() -> parse(argv)).isInstanceOf(ParameterException.class);
        }
        CliRun r = execute(argv);
        assertThat(r.exitCode()).isEqualTo(2).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(r.out()).isEmpty();
        assertThat(r.errLines()).isNotEmpty();
        String first = r.errLines().getFirst();
        for (String e : expected) {
            assertThat(first).as("first line of stderr").contains(e);
        }
    }

    // good command lines: parsed only, never executed

    @Test
    void traceDefaults() {
        TraceCommand t = subcommand(parse("trace"));
        assertThat(t.duration).isNull();
        assertThat(t.kinds).isEqualTo(EnumSet.allOf(Family.class));
        assertThat(t.json).isFalse();
        assertThat(t.kernel.ringSize).isEqualTo(8L << 20);
        assertThat(t.kernel.pollMs).isEqualTo(2);
    }

    @Test
    void traceAllOptions() {
        TraceCommand t = subcommand(parse("trace", "--duration", "500ms", "--kinds", "reset,state", "--json",
                "--ring-size", "256K", "--poll-interval", "5"));
        assertThat(t.duration).isEqualTo(Duration.ofMillis(500));
        assertThat(t.kinds).containsExactlyInAnyOrder(Family.RESET, Family.STATE);
        assertThat(t.json).isTrue();
        assertThat(t.kernel.ringSize).isEqualTo(256L << 10);
        assertThat(t.kernel.pollMs).isEqualTo(5);
    }

    @Test
    void traceShortOptionsAndAttachedValues() {
        TraceCommand t = subcommand(parse("trace", "-d", "2m", "-k", "pressure", "--ring-size=1M"));
        assertThat(t.duration).isEqualTo(Duration.ofMinutes(2));
        assertThat(t.kinds).containsExactly(Family.PRESSURE);
        assertThat(t.kernel.ringSize).isEqualTo(1L << 20);
    }

    @Test
    void kindsGivenTwiceAreUnited() {
        TraceCommand t = subcommand(parse("trace", "--kinds", "reset", "--kinds", "retransmit"));
        assertThat(t.kinds).containsExactlyInAnyOrder(Family.RESET, Family.RETRANSMIT);
        assertThat(t.kinds).allSatisfy(k -> assertThat(k).isInstanceOf(Family.class));
    }

    @Test
    void kindsAll() {
        TraceCommand t = subcommand(parse("trace", "--kinds", "all"));
        assertThat(t.kinds).isEqualTo(EnumSet.allOf(Family.class));
    }

    @Test
    void runDefaultsAndOptions() {
        RunCommand d = subcommand(parse("run"));
        assertThat(d.summaryInterval).isEqualTo(Duration.ofSeconds(60));
        assertThat(d.duration).isNull();
        assertThat(d.kernel.ringSize).isEqualTo(8L << 20);

        RunCommand r = subcommand(parse("run", "--summary-interval", "10s", "--ring-size", "16M", "--duration", "1h",
                "--poll-interval", "10"));
        assertThat(r.summaryInterval).isEqualTo(Duration.ofSeconds(10));
        assertThat(r.duration).isEqualTo(Duration.ofHours(1));
        assertThat(r.kernel.ringSize).isEqualTo(16L << 20);
        assertThat(r.kernel.pollMs).isEqualTo(10);
    }

    @Test
    void checkParses() {
        assertThat((Object) subcommand(parse("check"))).isInstanceOf(CheckCommand.class);
    }

    @Test
    void eachCommandLineIsFresh() {
        // commandLine() builds new command objects: options never leak between parses
        TraceCommand a = subcommand(parse("trace", "--json", "-k", "state"));
        TraceCommand b = subcommand(parse("trace"));
        assertThat(a).isNotSameAs(b);
        assertThat(b.json).isFalse();
        assertThat(b.kinds).isEqualTo(EnumSet.allOf(Family.class));
    }

    // runtime failures: one line, via describe()

    @Test
    void describeUnwrapsInitializerErrors() {
        Throwable t = new ExceptionInInitializerError(new IllegalStateException("BTF not found at /sys/kernel/btf/vmlinux"));
        assertThat(BusprobeCommand.describe(t)).isEqualTo("BTF not found at /sys/kernel/btf/vmlinux");
    }

    @Test
    void describeExplainsAMissingLibbpf() {
        Throwable t = new IllegalArgumentException("Cannot open library: libbpf.so.1");
        assertThat(BusprobeCommand.describe(t)).contains("libbpf.so.1").contains("apt-get install libbpf1");
    }

    @Test
    void describeUsesTheMessageOfExpectedFailures() {
        assertThat(BusprobeCommand.describe(new IllegalStateException("ring too small"))).isEqualTo("ring too small");
        assertThat(BusprobeCommand.describe(new IllegalArgumentException("bad"))).isEqualTo("bad");
        NativeException ne = new NativeException("bpf_object__load", -1);
        assertThat(BusprobeCommand.describe(ne)).isEqualTo(ne.getMessage())
                .startsWith("bpf_object__load: EPERM").contains("root").doesNotContain("\n");
    }

    @Test
    void describeNamesTheTypeOfUnexpectedFailures() {
        assertThat(BusprobeCommand.describe(new NullPointerException("x"))).isEqualTo("java.lang.NullPointerException: x");
        assertThat(BusprobeCommand.describe(new UnsupportedOperationException())).isEqualTo(
                "java.lang.UnsupportedOperationException");
    }

    @Test
    void runtimeFailureExitCodeIsOne() {
        assertThat(BusprobeCommand.EXIT_FAILURE).isEqualTo(1);
    }
}
