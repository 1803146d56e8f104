package io.busprobe.cli;

import io.busprobe.agent.Daemon;
import io.busprobe.bpf.Probe;
import io.busprobe.maps.PinDir;
import io.busprobe.metrics.AgentMetrics;
import io.busprobe.metrics.TopicCounters;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/** {@code busprobe run}: the daemon; see {@link Daemon}. */
@Command(name = "run",
        header = "Run the daemon: probes, metrics, sampling control",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = {"Run the busprobe daemon: load and attach every probe, pin the control maps under "
                + "/sys/fs/bpf/busprobe (or $BUSPROBE_PIN_DIR), consume events, serve metrics, thin sampling "
                + "by itself under ring pressure, log a periodic summary; detach and exit cleanly on SIGTERM "
                + "or SIGINT.",
                "A restarted daemon keeps the sampling config set with 'busprobe sample'."},
        footer = {"", "EXAMPLES",
                "  busprobe run",
                "  busprobe run --summary-interval 10s --ring-size 16M",
                "  busprobe run --reset-config --metrics-address 127.0.0.1:19477",
                "  busprobe run --socket-table-size 256K   # a host with more than 65536 TCP sockets",
                "  busprobe run --config /etc/busprobe/endpoints.yaml   # reload: busprobe endpoints reload",
                "  busprobe run --topic-top 20                          # 20 topic series per endpoint, plus other"})
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--summary-interval", paramLabel = "D", defaultValue = "60s",
            converter = Converters.SummaryIntervalConverter.class,
            description = "How often to log the one-line summary, 1s to 876000h (default: ${DEFAULT-VALUE}); "
                    + "the first comes after 10 s at most.")
    Duration summaryInterval;

    @Option(names = "--duration", paramLabel = "D", converter = Converters.DurationConverter.class,
            description = "Exit after this long, at most 876000h (for tests and benchmarks). Default: run until stopped.")
    Duration duration;

    @Option(names = "--reset-config",
            description = "Start from the default sampling config instead of the one pinned by an earlier daemon.")
    boolean resetConfig;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT", defaultValue = AgentMetrics.DEFAULT_ADDRESS,
            converter = Converters.ListenAddressConverter.class,
            description = "Serve Prometheus metrics on http://HOST:PORT/metrics (default: ${DEFAULT-VALUE}).")
    String metricsAddress;

    @Option(names = "--socket-table-size", paramLabel = "N", defaultValue = "64K",
            converter = Converters.SocketTableSizeConverter.class,
            description = "Size of the table that keeps each TCP socket's owner and endpoint match, 64 to 16M "
                    + "(default: ${DEFAULT-VALUE}, 65536): that many slots (rounded down to a power of two) and as "
                    + "many spare entries for sockets whose slot another holds. More of those than this evict the "
                    + "least recently used: counters stay exact, those sockets lose their owner, and "
                    + "busprobe_socket_table_evictions_total counts them.")
    int socketTableSize;

    @Option(names = "--events", paramLabel = "FILE",
            description = "Also write every record and every closed connection as JSON lines to FILE (appended), "
                    + "or '-' for stdout. Off by default: the daemon's job is counting.")
    String events;

    @Option(names = "--topic-top", paramLabel = "K", defaultValue = TopicCounters.DEFAULT_TOP_TEXT,
            converter = Converters.TopicTopConverter.class,
            description = "Per bus endpoint, the K topics with the most retransmitted segments get metric series of "
                    + "their own, 0 to 1000; the rest add up in topic=\"other\" (default: ${DEFAULT-VALUE}).")
    int topicTop;

    /** Test-only: drive the real partial-attach path on a kernel that has every hook. Not in --help. */
    @Option(names = "--pretend-absent", hidden = true, split = ",", paramLabel = "TRACEPOINT",
            converter = Converters.ProbeConverter.class)
    java.util.Set<Probe> pretendAbsent; // no initializer: --help must work without libbpf

    @Mixin
    KernelOptions kernel;

    @Mixin
    EndpointOptions endpointOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Consumer<String> log = Daemon.stderrLog(spec.commandLine().getErr());
        long deadline = Deadlines.after(System.nanoTime(), duration);
        // read once, before anything starts: a bad file is exit 2 with nothing started
        Daemon.Options options = new Daemon.Options(kernel.ringSize, socketTableSize, kernel.pollMs, PinDir.resolve(),
                resetConfig,
                metricsAddress, endpointOptions.config, endpointOptions.load(), events,
                pretendAbsent == null ? java.util.Set.of() : pretendAbsent, topicTop);
        try (Shutdown shutdown = new Shutdown(); Daemon daemon = Daemon.start(options, log)) {
            StartupLines.of(daemon, options, summaryInterval).forEach(log);
            Hangups.deliverTo(daemon::requestReload); // one that came during start-up reloads now
            shutdown.onRequest(daemon::wakeup); // the idle consumer sleeps long in epoll
            daemon.run(shutdown::requested, deadline, summaryInterval);
            log.accept("stopping: " + daemon.summaryLine());
        }
        return 0;
    }
}
