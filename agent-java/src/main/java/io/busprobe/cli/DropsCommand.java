package io.busprobe.cli;

import io.busprobe.bpf.DropReasons;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.PinDir;
import io.busprobe.text.Units;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code busprobe drops}: packets the kernel dropped, per reason and endpoint, over a window. */
@Command(name = "drops",
        header = "Packets the kernel dropped, per reason and bus endpoint",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = {"Show the packets the kernel dropped over a window, per drop reason (the kernel's own "
                + "names, e.g. NETFILTER_DROP, SOCKET_RCVBUFF), bus endpoint and direction. Reads the running "
                + "daemon's exact kernel counters; never sampled."},
        footer = {"", "EXAMPLES",
                "  busprobe drops                      # the last 5 s",
                "  busprobe drops --window 1m --json",
                "  busprobe drops --all                # also reasons that did not move in the window",
                "", "Rows: losses first (LOSS no: reasons that cost no peer a packet, README \"Drops\"), then the",
                "most drops. Columns that do not fit the terminal drop out in this order: BUS, TOTAL, /s."})
public final class DropsCommand implements Callable<Integer> {
    @Option(names = {"-w", "--window"}, paramLabel = "D", defaultValue = "5s",
            converter = Converters.WindowConverter.class,
            description = "Measure over this long, 1ms to 24h (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = "--json", description = "One JSON object instead of a table; exact counts.")
    boolean json;

    @Option(names = "--all", description = "Include every reason counted since the daemon started, moving or not.")
    boolean all;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        Path pins = PinDir.resolve();
        try (RunningDaemon daemon = RunningDaemon.find(pins);
             EndpointMaps maps = EndpointMaps.openPinned(pins);
             DropStats drops = DropStats.openPinned(pins)) {
            String span = Units.duration(window);
            // the wait is the window: say so, on stderr, so that --json stays clean
            spec.commandLine().getErr().println("busprobe: measuring for " + span + " ...");
            spec.commandLine().getErr().flush();
            long start = System.nanoTime();
            List<DropStats.Cell> before = drops.nonZero();
            long wait = start + window.toNanos() - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            List<DropStats.Cell> after = drops.nonZero();
            double seconds = (System.nanoTime() - start) / 1e9;
            var rows = DropTotals.rows(before, after, maps.names(), DropReasons.running(), seconds, all);
            String empty = "no packet dropped in " + span + "; --all shows what was counted before";
            if (json) {
                DropTotals.printJson(spec.commandLine().getOut(), rows, seconds);
            } else {
                DropTotals.lines(rows, "packet drops over the last " + Units.seconds(seconds) + ", losses first",
                        empty, Terminal.width()).forEach(spec.commandLine().getOut()::println);
                spec.commandLine().getOut().flush();
            }
        }
        return 0;
    }
}
