package io.busprobe.cli;

import io.busprobe.agent.Session;
import io.busprobe.bpf.KindStats;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.event.EventView;
import io.busprobe.metrics.AgentMetrics;
import io.busprobe.ringbuf.RecordHandler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code busprobe run}: the daemon. Loads every probe family, consumes the
 * ring for as long as it runs and logs a one-line summary periodically.
 * Metrics, control and correlation attach here in later issues.
 */
@Command(name = "run",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Run the busprobe daemon: load and attach every probe, consume events, log a periodic "
                + "summary; detach and exit cleanly on SIGTERM or SIGINT.",
        footer = {"", "Examples:",
                "  busprobe run",
                "  busprobe run --summary-interval 10s --ring-size 16M"})
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--summary-interval", paramLabel = "D", defaultValue = "60s",
            converter = Converters.DurationConverter.class,
            description = "How often to log the one-line summary (default: ${DEFAULT-VALUE}).")
    Duration summaryInterval;

    @Option(names = "--duration", paramLabel = "D", converter = Converters.DurationConverter.class,
            description = "Exit after this long (for tests and benchmarks). Default: run until stopped.")
    Duration duration;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT", defaultValue = AgentMetrics.DEFAULT_ADDRESS,
            description = "Serve Prometheus metrics on http://HOST:PORT/metrics (default: ${DEFAULT-VALUE}).")
    String metricsAddress;

    @Mixin
    KernelOptions kernel;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (summaryInterval.isZero() || summaryInterval.isNegative()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--summary-interval must be positive");
        }
        PrintWriter log = spec.commandLine().getErr();
        long start = System.nanoTime();
        long deadline = Deadlines.after(start, duration);
        EventView view = new EventView();
        try (Shutdown shutdown = new Shutdown();
             Session session = Session.start(EnumSet.allOf(Family.class), kernel.ringSize);
             AgentMetrics metrics = AgentMetrics.start(metricsAddress, session)) {
            // the per-event path: what cannot be read from a kernel map, nothing allocated
            RecordHandler handler = (data, offset, length) -> metrics.onEvent(view.wrap(data, offset).tsNanos());
            long attached = session.probes().stream().filter(ProbeStatus::attached).count();
            log.printf("%s busprobe: started, %d/%d probes attached, ring %d KiB%n", Instant.now(), attached,
                    session.probes().size(), session.ring().size() >> 10);
            for (ProbeStatus p : session.probes()) {
                if (!p.attached()) {
                    log.println(Instant.now() + " busprobe: probe disabled: " + p);
                }
            }
            log.flush();
            long nextSummary = System.nanoTime() + summaryInterval.toNanos();
            while (!shutdown.requested() && System.nanoTime() < deadline) {
                session.ring().poll(handler, kernel.pollMs);
                if (System.nanoTime() >= nextSummary) {
                    log.println(Instant.now() + " busprobe: " + summaryLine(session));
                    log.flush();
                    nextSummary += summaryInterval.toNanos();
                }
            }
            session.stopAndDrain(handler);
            log.println(Instant.now() + " busprobe: stopping: " + summaryLine(session));
            log.flush();
        }
        return 0;
    }

    static String summaryLine(Session session) {
        StringBuilder sb = new StringBuilder();
        long dropped = 0;
        for (Map.Entry<EventKind, KindStats> e : session.stats().entrySet()) {
            KindStats k = e.getValue();
            dropped += k.dropped();
            if (k.seen() > 0) {
                sb.append(e.getKey().label()).append('=').append(k.seen()).append(' ');
            }
        }
        return sb.append("read=").append(session.ring().recordsRead())
                .append(" dropped=").append(dropped)
                .append(" pending=").append(session.ring().pendingBytes()).append('B').toString();
    }
}
