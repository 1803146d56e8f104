package io.busprobe.cli;

import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.text.Table;
import io.busprobe.text.Units;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/** {@code busprobe top}: the endpoints view, refreshed in place over a sliding window. */
@Command(name = "top",
        header = "Live per-endpoint table, refreshed until Ctrl-C",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Live per-endpoint table (like 'busprobe endpoints'), refreshed every interval over a sliding "
                + "window, until Ctrl-C or --iterations refreshes. On a terminal the frame is redrawn in place and "
                + "fits its width (columns drop out in the order 'busprobe endpoints --help' gives); piped, each "
                + "refresh is printed after the last.",
        footer = {"", "EXAMPLES", "  busprobe top", "  busprobe top --window 1m --interval 2s",
                "  busprobe top --iterations 3 --interval 1s > top.txt   # three refreshes, then exit",
                "  busprobe top --by topic                                # which topic is losing segments now"})
public final class TopCommand implements Callable<Integer> {
    @Option(names = {"-w", "--window"}, paramLabel = "D", defaultValue = "10s",
            converter = Converters.WindowConverter.class,
            description = "Sliding window for rates and ratios, one interval to 24h (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = {"-i", "--interval"}, paramLabel = "D", defaultValue = "1s",
            converter = Converters.RefreshConverter.class,
            description = "Refresh interval, 100ms to 1h (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = {"-n", "--iterations"}, paramLabel = "N", converter = Converters.CountConverter.class,
            description = "Stop after N refreshes (default: until Ctrl-C).")
    Integer iterations;

    @Option(names = "--by", paramLabel = "ROW", defaultValue = "endpoint",
            description = "One row per endpoint and direction (endpoint, the default), or per topic of a bus "
                    + "client's sends (topic), as 'busprobe endpoints --by' shows them.")
    EndpointsCommand.By by;

    @Option(names = "--topic-top", paramLabel = "K", defaultValue = "20",
            converter = Converters.TopicTopConverter.class,
            description = "With --by topic: the K worst topics per endpoint get a row, and the K slowest subscribed "
                    + "ones, the rest one 'other' row "
                    + "(default: ${DEFAULT-VALUE}).")
    int topicTop;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Erase from the cursor to the end of the line, and to the end of the screen (ECMA-48 EL, ED). */
    private static final String CLEAR_LINE = "\033[K";
    private static final String CLEAR_BELOW = "\033[J";
    private static final String HOME = "\033[H";

    @Override
    public Integer call() throws InterruptedException {
        if (window.compareTo(interval) < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--window (" + Units.duration(window)
                    + ") must be at least one --interval (" + Units.duration(interval) + ")");
        }
        Path pins = PinDir.resolve();
        try (RunningDaemon daemon = RunningDaemon.find(pins);
             EndpointMaps maps = EndpointMaps.openPinned(pins)) {
            if (by == EndpointsCommand.By.topic) {
                try (TopicMaps topics = TopicMaps.openPinned(pins);
                     TopicSubscribers subscribers = TopicSubscribers.openPinned(pins)) {
                    loop(daemon, () -> TopicView.Snapshot.take(maps, topics, subscribers), TopicView.Snapshot::nanos,
                            "topics", TopicView.table(), (base, now, span, seconds, every) -> TopicView.lines(
                                    TopicView.endpoints(base, now, topicTop), "topics of bus clients' sends over "
                                            + "the last " + span + ", most retransmitted segments first (" + every
                                            + ")", "no tagged sends or subscribers in the last " + Units.seconds(seconds),
                                    Terminal.width()));
                }
            } else {
                loop(daemon, () -> EndpointView.Snapshot.take(maps), EndpointView.Snapshot::nanos, "bus endpoints",
                        EndpointView.table(), (base, now, span, seconds, every) -> EndpointView.lines(
                                EndpointView.rows(base, now, false), "bus endpoints over the last " + span
                                        + ", worst retransmit ratio first (" + every + ")",
                                "no endpoint traffic in the last " + Units.seconds(seconds), Terminal.width()));
            }
        }
        return 0;
    }

    /** A frame from the base and the newest snapshot of the window. */
    private interface Frame<S> {
        List<String> lines(S base, S now, String span, double seconds, String every);
    }

    private <S> void loop(RunningDaemon daemon, Supplier<S> take, ToLongFunction<S> nanosOf, String what,
                          Table header, Frame<S> frame) throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        boolean tty = Terminal.stdoutIsTerminal();
        String every = "every " + Units.duration(interval) + ", Ctrl-C to stop";
        SlidingWindow<S> history = new SlidingWindow<>(window, interval, nanosOf);
        S first = take.get();
        history.add(first);
        // never a blank screen: the frame now, the numbers after one interval
        List<String> lines = new ArrayList<>();
        lines.add(what + ": first numbers in " + Units.duration(interval) + " (" + Units.duration(window)
                + " window, " + every + ")");
        lines.addAll(header.render(Terminal.width()).lines());
        draw(out, lines, tty);
        if (!tty) {
            spec.commandLine().getErr().println("busprobe: top refreshes " + every);
            spec.commandLine().getErr().flush();
        }
        long start = nanosOf.applyAsLong(first);
        for (long i = 1; iterations == null || i <= iterations; i++) {
            // a fixed rate, not a sleep after each refresh: snapshots stay one interval apart
            long due = start + i * interval.toNanos();
            long wait = due - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            daemon.requireStillRunning();
            S now = take.get();
            S base = history.add(now);
            double seconds = (nanosOf.applyAsLong(now) - nanosOf.applyAsLong(base)) / 1e9;
            draw(out, frame.lines(base, now, history.label(now, base), seconds, every), tty);
        }
    }

    /** On a terminal, over the last frame from the top left; piped, after it with a blank line between. */
    private static void draw(PrintWriter out, List<String> lines, boolean tty) {
        StringBuilder sb = new StringBuilder();
        if (tty) {
            sb.append(HOME);
        }
        for (String line : lines) {
            sb.append(line).append(tty ? CLEAR_LINE : "").append('\n');
        }
        sb.append(tty ? CLEAR_BELOW : "\n");
        out.print(sb);
        out.flush();
    }

    /**
     * Snapshots of a sliding window. Each refresh's base is the newest snapshot at least one
     * window old, give or take half an interval, so {@code --window 10s} measures over 10 s and
     * not over the nine full intervals after the oldest one. Snapshots closer together than
     * 1/{@value #MAX_SNAPSHOTS} of the window are thinned out, so a day-long window holds a few
     * hundred of them, not one per refresh.
     */
    static final class SlidingWindow<T> {
        static final int MAX_SNAPSHOTS = 600;

        private final long windowNanos;
        private final long toleranceNanos;
        private final long spacingNanos;
        private final ToLongFunction<T> nanosOf;
        private final Deque<T> kept = new ArrayDeque<>();

        SlidingWindow(Duration window, Duration interval, ToLongFunction<T> nanosOf) {
            this.windowNanos = window.toNanos();
            this.toleranceNanos = interval.toNanos() / 2;
            this.spacingNanos = windowNanos / MAX_SNAPSHOTS;
            this.nanosOf = nanosOf;
        }

        /** Keep {@code now}; the base to measure it against (the first snapshot itself). */
        T add(T now) {
            long t = nanosOf.applyAsLong(now);
            if (kept.size() >= 2) {
                T last = kept.removeLast();
                if (nanosOf.applyAsLong(last) - nanosOf.applyAsLong(kept.peekLast()) >= spacingNanos) {
                    kept.addLast(last);
                }
            }
            kept.addLast(now);
            // drop the oldest while the next one is old enough to be the base
            while (kept.size() > 2 && t - nanosOf.applyAsLong(second()) >= windowNanos - toleranceNanos) {
                kept.removeFirst();
            }
            return kept.peekFirst();
        }

        int size() {
            return kept.size();
        }

        private T second() {
            var it = kept.iterator();
            it.next();
            return it.next();
        }

        /**
         * How long {@code base} to {@code now} is, for the title: the window as asked for once the
         * window is full ({@code 10 s}), what it is while it fills ({@code 3 s, the 10 s window is
         * filling}).
         */
        String label(T now, T base) {
            long span = nanosOf.applyAsLong(now) - nanosOf.applyAsLong(base);
            if (Math.abs(span - windowNanos) <= Math.max(toleranceNanos, windowNanos / 20)) {
                return Units.duration(Duration.ofNanos(windowNanos));
            }
            String measured = Units.seconds(span / 1e9);
            return span < windowNanos ? measured + " (the " + Units.duration(Duration.ofNanos(windowNanos))
                    + " window is filling)" : measured;
        }
    }
}
