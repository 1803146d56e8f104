package io.busprobe.cli;

import io.busprobe.ffi.Sys;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.PinDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code busprobe endpoints}: per-endpoint traffic and trouble over a window, from the daemon's pinned maps. */
@Command(name = "endpoints",
        header = "Traffic, retransmits, resets, pressure per bus endpoint",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = {"Show, per bus endpoint and direction, connections, bytes/s and segments/s each way, the "
                + "retransmitted-segment ratio, resets and socket-buffer pressure over a window, with the worst "
                + "processes and peers. Reads the running daemon's kernel counters; exact, never sampled."},
        subcommands = {EndpointsCommand.Reload.class},
        footer = {"", "EXAMPLES",
                "  busprobe endpoints                  # the last 5 s",
                "  busprobe endpoints --window 30s --json",
                "  busprobe endpoints --all            # also endpoints without traffic",
                "  busprobe endpoints reload           # re-read the daemon's --config file (same as SIGHUP)"})
public final class EndpointsCommand implements Callable<Integer> {
    @Option(names = {"-w", "--window"}, paramLabel = "D", defaultValue = "5s",
            converter = Converters.DurationConverter.class,
            description = "Measure over this long (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = "--json", description = "One JSON object instead of a table.")
    boolean json;

    @Option(names = "--all", description = "Include endpoints that had no traffic in the window.")
    boolean all;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (window.isZero() || window.isNegative() || window.toHours() > 24) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--window must be between 1ms and 24h");
        }
        try (ControlMaps control = ControlMaps.openPinned(PinDir.resolve());
             EndpointMaps maps = EndpointMaps.openPinned(PinDir.resolve())) {
            StatusCommand.requireAlive(control);
            EndpointView.Snapshot before = EndpointView.Snapshot.take(maps);
            Thread.sleep(window.toMillis());
            EndpointView.Snapshot after = EndpointView.Snapshot.take(maps);
            double seconds = (after.nanos() - before.nanos()) / 1e9;
            var rows = EndpointView.rows(before, after, all);
            if (json) {
                EndpointView.printJson(spec.commandLine().getOut(), rows, seconds);
            } else {
                EndpointView.printTable(spec.commandLine().getOut(), rows, seconds);
            }
        }
        return 0;
    }

    /** {@code busprobe endpoints reload}: SIGHUP to the daemon that owns the pins. */
    @Command(name = "reload", header = "Make the daemon re-read its --config file (SIGHUP)", mixinStandardHelpOptions = true, versionProvider = BusprobeCommand.Version.class,
            description = "Ask the running daemon to re-read its endpoint config (its --config file). A bad file is "
                    + "reported in the daemon's log and the running config stays.",
            footer = {"", "EXAMPLES",
                    "  busprobe endpoints reload",
                    "  sudo kill -HUP $(pidof busprobe)             # the same, by hand",
                    "  systemctl reload busprobe                   # the same, under systemd"})
    static final class Reload implements Callable<Integer> {
        private static final int SIGHUP = 1;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            try (ControlMaps control = ControlMaps.openPinned(PinDir.resolve())) {
                AgentState a = StatusCommand.requireAlive(control);
                Sys.kill(a.pid(), SIGHUP);
                spec.commandLine().getOut().println("asked the busprobe daemon (pid " + a.pid()
                        + ") to reload its endpoint config; its log says how it went");
                spec.commandLine().getOut().flush();
            }
            return 0;
        }
    }
}
