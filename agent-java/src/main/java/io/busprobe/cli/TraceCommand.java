package io.busprobe.cli;

import io.busprobe.agent.DropAdvice;
import io.busprobe.bpf.DropReasons;
import io.busprobe.agent.Session;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.connection.ConnectionTable;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.event.EventView;
import io.busprobe.maps.KindStats;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.sink.EndpointNames;
import io.busprobe.sink.EventSink;
import io.busprobe.sink.JsonSink;
import io.busprobe.sink.TableSink;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import io.busprobe.text.Units;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code busprobe trace}: stream kernel TCP events to the terminal or as JSON lines. */
@Command(name = "trace",
        header = "Print TCP events as they happen, then the exact counters",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Load the probes, print every event as it arrives, and on exit a summary with the "
                + "exact kernel counters per kind and the drop count.",
        footer = {"", "EXAMPLES",
                "  busprobe trace                                 # all kinds until Ctrl-C",
                "  busprobe trace --duration 10s --kinds retransmit",
                "  busprobe trace --json --kinds reset,state > events.jsonl",
                "", "JSON lines have at least kind, ts_ns, family, saddr, sport, daddr, dport, state, pid, comm;",
                "the last line is {\"type\":\"summary\",...}. pid/comm name the task only where task_valid is true."})
public final class TraceCommand implements Callable<Integer> {
    @Option(names = {"-d", "--duration"}, paramLabel = "D", converter = Converters.DurationConverter.class,
            description = "Stop after this long (e.g. 500ms, 2.5s, 30s, 2m; at most 876000h). "
                    + "Default: until SIGINT/SIGTERM.")
    Duration duration;

    @Option(names = {"-k", "--kinds"}, paramLabel = "LIST", defaultValue = "all",
            converter = Converters.FamiliesConverter.class, completionCandidates = Converters.FamilyCandidates.class,
            description = "Comma-separated event families: retransmit, state, reset, pressure, drop, or all "
                    + "(default: ${DEFAULT-VALUE}).")
    Set<Family> kinds = EnumSet.allOf(Family.class);

    @Option(names = "--json", description = "One JSON object per line instead of a table.")
    boolean json;

    @Mixin
    KernelOptions kernel;

    @Mixin
    EndpointOptions endpointOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        // events go to a buffered stream of their own, flushed once per ring poll
        PrintStream out = new PrintStream(new java.io.BufferedOutputStream(System.out, 1 << 16), false);
        return run(out, spec.commandLine().getErr());
    }

    int run(PrintStream out, java.io.PrintWriter err) {
        EndpointConfig endpoints = endpointOptions.load();
        EndpointNames names = new EndpointNames(endpoints);
        DropAdvice drops = new DropAdvice(java.util.Map.of());
        long start = System.nanoTime();
        long deadline = Deadlines.after(start, duration);
        try (Shutdown shutdown = new Shutdown();
             Session session = Session.start(kinds, kernel.ringSize, null, false, endpoints);
             EventSink sink = json ? new JsonSink(out, names, session.bpf().topicMaps()::name) : new TableSink(out, names)) {
            for (ProbeStatus p : session.probes()) {
                if (p.state() != ProbeStatus.State.ATTACHED && p.state() != ProbeStatus.State.NOT_SELECTED) {
                    err.println("busprobe: probe disabled: " + p);
                }
            }
            // never a blank screen: say what runs before the first event, which may take a while
            err.println("busprobe: " + header(session, kinds, kernel.ringSize, duration));
            err.flush();
            EventView view = new EventView();
            ConnectionTable table = new ConnectionTable(sink::connection);
            RecordHandler handler = (data, offset, length) -> {
                sink.event(view.wrap(data, offset));
                table.onEvent(view);
            };
            session.consume(shutdown::requested, deadline, kernel.pollMs, handler, (records, now) -> {
                if (records > 0) {
                    sink.flush();
                }
            });
            session.stopAndDrain(handler);
            // only the kinds that were asked for: the others were never loaded
            java.util.Map<EventKind, KindStats> stats = session.stats();
            stats.keySet().removeIf(k -> !kinds.contains(k.family()));
            sink.summary(new EventSink.Summary((System.nanoTime() - start) / 1_000_000, stats,
                    session.ring().recordsRead(), session.ring().recordsDiscarded(), session.probes(),
                    kinds.contains(Family.DROP) ? DropTotals.byReason(session.bpf().dropStats().nonZero(),
                            DropReasons.running()) : java.util.Map.of()));
            DropAdvice.Advice advice = drops.since(stats, kernel.ringSize, k -> 1);
            if (advice != null) {
                err.println("busprobe: " + advice.forTrace());
                err.flush();
            }
        }
        return 0;
    }

    /** {@code tracing retransmit, state (6/10 probes attached), ring 8M, for 30 s; Ctrl-C to stop}. */
    static String header(Session session, Set<Family> kinds, long ringSize, Duration duration) {
        long selected = session.probes().stream().filter(p -> p.state() != ProbeStatus.State.NOT_SELECTED).count();
        long attached = session.probes().stream().filter(ProbeStatus::attached).count();
        List<String> families = new ArrayList<>();
        for (Family f : kinds) {
            families.add(f.label());
        }
        return "tracing " + String.join(", ", families) + " (" + attached + "/" + selected + " probes attached), ring "
                + Units.size(ringSize) + (duration == null ? "" : ", for " + Units.duration(duration))
                + "; Ctrl-C to stop";
    }
}
