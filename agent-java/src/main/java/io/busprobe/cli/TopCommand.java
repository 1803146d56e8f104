package io.busprobe.cli;

import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.PinDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Callable;

/** {@code busprobe top}: the endpoints view, refreshed in place over a sliding window. */
@Command(name = "top",
        header = "Live per-endpoint table, refreshed until Ctrl-C",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Live per-endpoint table (like 'busprobe endpoints'), refreshed every interval over a sliding "
                + "window, until Ctrl-C.",
        footer = {"", "EXAMPLES", "  busprobe top", "  busprobe top --window 1m --interval 2s"})
public final class TopCommand implements Callable<Integer> {
    @Option(names = {"-w", "--window"}, paramLabel = "D", defaultValue = "10s",
            converter = Converters.DurationConverter.class,
            description = "Sliding window for rates and ratios (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = {"-i", "--interval"}, paramLabel = "D", defaultValue = "1s",
            converter = Converters.DurationConverter.class,
            description = "Refresh interval (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = {"-n", "--iterations"}, paramLabel = "N", converter = Converters.CountConverter.class,
            description = "Stop after N refreshes (default: until Ctrl-C).")
    Integer iterations;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (interval.toMillis() < 100 || window.compareTo(interval) < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--interval must be at least 100ms and --window at least one interval");
        }
        PrintWriter out = spec.commandLine().getOut();
        boolean tty = System.console() != null;
        try (ControlMaps control = ControlMaps.openPinned(PinDir.resolve());
             EndpointMaps maps = EndpointMaps.openPinned(PinDir.resolve())) {
            Deque<EndpointView.Snapshot> history = new ArrayDeque<>();
            history.add(EndpointView.Snapshot.take(maps));
            for (int i = 0; iterations == null || i < iterations; i++) {
                Thread.sleep(interval.toMillis());
                StatusCommand.requireAlive(control);
                EndpointView.Snapshot now = EndpointView.Snapshot.take(maps);
                history.add(now);
                // the oldest snapshot still inside the window is the base of every rate
                while (history.size() > 2 && now.nanos() - history.peekFirst().nanos() > window.toNanos()) {
                    history.removeFirst();
                }
                EndpointView.Snapshot base = history.peekFirst();
                if (tty) {
                    out.print("\033[H\033[2J");
                }
                EndpointView.printTable(out, EndpointView.rows(base, now, false), (now.nanos() - base.nanos()) / 1e9);
            }
        }
        return 0;
    }
}
