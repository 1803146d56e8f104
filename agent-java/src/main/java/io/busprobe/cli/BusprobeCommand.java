package io.busprobe.cli;

import io.busprobe.endpoint.ConfigException;
import io.busprobe.ffi.HostProblem;
import io.busprobe.ffi.NativeException;
import io.busprobe.text.Messages;
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
        header = "eBPF TCP observability for event buses",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Watch the kernel's TCP stack with eBPF: retransmits, resets, state changes and "
                + "socket-buffer pressure, for the endpoints of an event bus.",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {TraceCommand.class, RunCommand.class, SampleCommand.class, StatusCommand.class,
            EndpointsCommand.class, DropsCommand.class, TopCommand.class, CheckCommand.class,
            picocli.AutoComplete.GenerateCompletion.class},
        footer = {"", "EXAMPLES",
                "  busprobe trace --duration 30s --kinds retransmit,reset",
                "  busprobe trace --json | jq 'select(.kind==\"retransmit\")'",
                "  busprobe run",
                "  busprobe sample --kind state --every 10",
                "  busprobe status --json",
                "  busprobe endpoints --window 30s",
                "  busprobe top",
                "  busprobe check",
                "", "Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF (/sys/kernel/btf/vmlinux).",
                "", "EXIT STATUS",
                "  0  success, or stopped by SIGTERM/SIGINT after a clean detach",
                "  1  runtime failure: a busy port, another daemon, no daemon, a kernel error",
                "  2  bad input, a flag or the config file; nothing was started",
                "  3  the host cannot run busprobe: not root, no kernel BTF, no libbpf 1.0+,",
                "     no bpffs, no JDK 25 (the launcher)"})
public final class BusprobeCommand implements Runnable {
    /** Exit code for a runtime failure: worth retrying (a busy port, another daemon, a kernel error). */
    public static final int EXIT_FAILURE = 1;
    /** Exit code for bad input, a flag or the config file, as picocli uses for usage errors. */
    public static final int EXIT_USAGE = 2;
    /** Exit code for a host that cannot run busprobe as it is ({@link HostProblem}): retrying will not help. */
    public static final int EXIT_HOST = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required ("
                + String.join(", ", spec.subcommands().keySet()) + ")");
    }

    /** The configured command line, used by Main and by tests. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new BusprobeCommand());
        completionExamples(cl);
        manPageStyle(cl);
        // usage errors: one line naming the problem, a pointer to --help, exit 2
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println(PREFIX + Messages.oneLine(unprefixed(ex.getMessage())));
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, c.getErr());
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help'.");
            return c.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println(PREFIX + Messages.oneLine(describe(ex)));
            cmd.getErr().flush();
            // a bad config file is bad input, like a bad flag: exit 2, nothing started
            return exitCode(ex);
        });
        return cl;
    }

    /**
     * Every command's --help reads like a man page: NAME, SYNOPSIS, DESCRIPTION,
     * OPTIONS, COMMANDS, then the footer's EXAMPLES (and EXIT STATUS for the top).
     * NAME is the command's path and the first sentence of its description.
     */
    static void manPageStyle(CommandLine cl) {
        CommandLine.Model.UsageMessageSpec u = cl.getCommandSpec().usageMessage();
        String[] description = u.description();
        String first = description.length == 0 ? "" : description[0];
        int stop = first.indexOf(": ");
        int dot = first.indexOf(". ");
        int end = stop < 0 ? dot : dot < 0 ? stop : Math.min(stop, dot);
        String summary = end < 0 ? first.replaceAll("\\.$", "") : first.substring(0, end);
        // the header is also the one-line summary in a parent's COMMANDS list
        u.headerHeading("NAME%n  " + cl.getCommandSpec().qualifiedName() + " - ");
        if (u.header().length == 0) {
            u.header(summary.replace("%", "%%"));
        }
        u.synopsisHeading("%nSYNOPSIS%n  ")
                .descriptionHeading("%nDESCRIPTION%n")
                .parameterListHeading("%nARGUMENTS%n")
                .optionListHeading("%nOPTIONS%n")
                .commandListHeading("%nCOMMANDS%n");
        for (CommandLine sub : cl.getSubcommands().values()) {
            manPageStyle(sub);
        }
    }

    private static void completionExamples(CommandLine cl) {
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage()
                .header("Print the bash/zsh completion script").footer("", "EXAMPLES",
                "  busprobe generate-completion > /etc/bash_completion.d/busprobe",
                "  source <(busprobe generate-completion)          # this shell only",
                "", "make install puts the script in PREFIX/share/bash-completion/completions/.");
    }

    /** What every error line starts with. */
    static final String PREFIX = "busprobe: ";

    /** A message without a {@code busprobe: } of its own: the error line has one already. */
    static String unprefixed(String message) {
        String m = String.valueOf(message);
        return m.startsWith(PREFIX) ? m.substring(PREFIX.length()) : m;
    }

    /** 2 for bad input, 3 for a host that cannot run busprobe, 1 for anything else. */
    static int exitCode(Throwable ex) {
        if (ex instanceof ConfigException) {
            return EXIT_USAGE;
        }
        return ex instanceof HostProblem || missingLibbpf(ex) ? EXIT_HOST : EXIT_FAILURE;
    }

    /** libbpf.so.1 could not be loaded: seen wherever a class first touches the bindings. */
    static boolean missingLibbpf(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("libbpf.so.1")) {
                return true;
            }
        }
        return false;
    }

    /** One line naming the problem and, where known, the fix. */
    static String describe(Throwable ex) {
        if (missingLibbpf(ex)) {
            return "cannot load libbpf.so.1: install libbpf 1.0 or newer (apt-get install libbpf1)";
        }
        Throwable t = ex;
        while (t instanceof ExceptionInInitializerError && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof NativeException || t instanceof IllegalStateException || t instanceof HostProblem
                || t instanceof IllegalArgumentException || t instanceof ConfigException
                || t instanceof java.io.UncheckedIOException) {
            return unprefixed(t.getMessage());
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
