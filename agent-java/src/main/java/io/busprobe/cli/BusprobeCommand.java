package io.busprobe.cli;

import io.busprobe.ffi.NativeException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * {@code busprobe}: the top-level command. Subcommands do the work; this
 * class owns help, version and the one-line error convention.
 */
@Command(name = "busprobe",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Watch the kernel's TCP stack with eBPF: retransmits, resets, state changes and "
                + "socket-buffer pressure, for the endpoints of an event bus.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {TraceCommand.class, RunCommand.class, SampleCommand.class, StatusCommand.class,
            EndpointsCommand.class, TopCommand.class, CheckCommand.class},
        footer = {"", "Examples:",
                "  busprobe trace --duration 30s --kinds retransmit,reset",
                "  busprobe trace --json | jq 'select(.kind==\"retransmit\")'",
                "  busprobe run",
                "  busprobe sample --kind state --every 10",
                "  busprobe status --json",
                "  busprobe endpoints --window 30s",
                "  busprobe top",
                "  busprobe check",
                "", "Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF (/sys/kernel/btf/vmlinux)."})
public final class BusprobeCommand implements Runnable {
    /** Exit code for a runtime failure (usage errors exit 2, as picocli does). */
    public static final int EXIT_FAILURE = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (trace, run, sample, status, endpoints, top, check)");
    }

    /** The configured command line, used by Main and by tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new BusprobeCommand());
        // usage errors: one line naming the problem, a pointer to --help, exit 2
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("busprobe: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, c.getErr());
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help'.");
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("busprobe: " + describe(ex));
            cmd.getErr().flush();
            // a bad config file is bad input, like a bad flag: exit 2, nothing started
            return ex instanceof io.busprobe.endpoint.ConfigException ? cmd.getCommandSpec().exitCodeOnInvalidInput()
                    : EXIT_FAILURE;
        });
        return cl;
    }

    /** One line naming the problem and, where known, the fix. */
    static String describe(Throwable ex) {
        Throwable t = ex;
        while (t instanceof ExceptionInInitializerError && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof IllegalArgumentException && String.valueOf(t.getMessage()).contains("libbpf.so.1")) {
            return "cannot load libbpf.so.1: install it (apt-get install libbpf1)";
        }
        if (t instanceof NativeException || t instanceof IllegalStateException
                || t instanceof IllegalArgumentException || t instanceof io.busprobe.endpoint.ConfigException
                || t instanceof java.io.UncheckedIOException) {
            return t.getMessage();
        }
        return t.toString();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = BusprobeCommand.class.getResourceAsStream("/io/busprobe/version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"busprobe " + p.getProperty("version", "unknown"),
                    "Java " + Runtime.version() + ", " + System.getProperty("os.name") + " "
                            + System.getProperty("os.version")};
        }
    }
}
