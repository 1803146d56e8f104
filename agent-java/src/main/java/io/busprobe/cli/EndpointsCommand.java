package io.busprobe.cli;

import io.busprobe.ffi.Sys;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.text.Units;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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
                "  busprobe endpoints reload           # re-read the daemon's --config file, print its verdict",
                "  busprobe endpoints --by topic       # which channel, subject or topic lost the segments",
                "", "Rows: the worst retransmit ratio first, an endpoint's client and server rows together.",
                "Columns that do not fit the terminal drop out in this order: BUS, RX SEG/s, TX SEG/s,",
                "OPEN/CLOSE, PRESS, LIVE, RST RX, RST TX, RX/s, TX/s. --json has every field, exact.",
                "", "--by topic: per endpoint (client direction) its --topic-top worst topics, then other, the",
                "endpoint with the most retransmitted segments first; an endpoint's rows sum to its exact count.",
                "When this host has subscribers, WAITING (bytes unread in their sockets), SUBS and ZERO-WIN",
                "(those offering a zero window), as the daemon last sampled them; the --topic-top slowest",
                "subscribed topics get a row too. Columns drop out in this order: BUS, OP, SUBS, ZERO-WIN,",
                "TX/s, SHARE, WAITING."})
public final class EndpointsCommand implements Callable<Integer> {
    @Option(names = {"-w", "--window"}, paramLabel = "D", defaultValue = "5s",
            converter = Converters.WindowConverter.class,
            description = "Measure over this long, 1ms to 24h (default: ${DEFAULT-VALUE}).")
    Duration window;

    @Option(names = "--json", description = "One JSON object instead of a table; exact counts and rates.")
    boolean json;

    @Option(names = "--all", description = "Include endpoints that had no traffic in the window.")
    boolean all;

    /** What a row is: an endpoint and direction, or one topic of a bus client's sends. */
    enum By { endpoint, topic }

    @Option(names = "--by", paramLabel = "ROW", defaultValue = "endpoint",
            description = "One row per endpoint and direction (endpoint, the default), or per topic of a bus "
                    + "client's sends (topic): Redis channel, stream or command, NATS subject, Kafka topic, with "
                    + "the bytes waiting in its subscribers on this host.")
    By by;

    @Option(names = "--topic-top", paramLabel = "K", defaultValue = "20",
            converter = Converters.TopicTopConverter.class,
            description = "With --by topic: the K worst topics per endpoint get a row, and the K slowest subscribed "
                    + "ones, the rest one 'other' row "
                    + "(default: ${DEFAULT-VALUE}).")
    int topicTop;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (by == By.topic) {
            return byTopic();
        }
        Path pins = PinDir.resolve();
        try (RunningDaemon daemon = RunningDaemon.find(pins);
             EndpointMaps maps = EndpointMaps.openPinned(pins)) {
            String span = Units.duration(window);
            // the wait is the window: say so, on stderr, so that --json stays clean
            spec.commandLine().getErr().println("busprobe: measuring for " + span + " ...");
            spec.commandLine().getErr().flush();
            EndpointView.Snapshot before = EndpointView.Snapshot.take(maps);
            long wait = before.nanos() + window.toNanos() - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            EndpointView.Snapshot after = EndpointView.Snapshot.take(maps);
            double seconds = (after.nanos() - before.nanos()) / 1e9;
            var rows = EndpointView.rows(before, after, all);
            String empty = "no endpoint traffic in " + span + "; --all shows idle endpoints, --window a longer one";
            if (json) {
                EndpointView.printJson(spec.commandLine().getOut(), rows, seconds);
                if (rows.isEmpty()) {
                    spec.commandLine().getErr().println("busprobe: " + empty);
                    spec.commandLine().getErr().flush();
                }
            } else {
                EndpointView.printTable(spec.commandLine().getOut(), rows, "bus endpoints over the last "
                        + Units.seconds(seconds) + ", worst retransmit ratio first", empty, Terminal.width());
            }
        }
        return 0;
    }

    private Integer byTopic() throws InterruptedException {
        Path pins = PinDir.resolve();
        try (RunningDaemon daemon = RunningDaemon.find(pins);
             EndpointMaps maps = EndpointMaps.openPinned(pins);
             TopicMaps topics = TopicMaps.openPinned(pins);
             TopicSubscribers subscribers = TopicSubscribers.openPinned(pins)) {
            String span = Units.duration(window);
            spec.commandLine().getErr().println("busprobe: measuring for " + span + " ...");
            spec.commandLine().getErr().flush();
            TopicView.Snapshot before = TopicView.Snapshot.take(maps, topics, subscribers);
            long wait = before.nanos() + window.toNanos() - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
            TopicView.Snapshot after = TopicView.Snapshot.take(maps, topics, subscribers);
            double seconds = (after.nanos() - before.nanos()) / 1e9;
            var endpoints = TopicView.endpoints(before, after, topicTop);
            String empty = "no tagged sends or subscribers in " + span + "; topics are tagged on this host's sends "
                    + "to a redis, nats or kafka endpoint";
            if (json) {
                TopicView.printJson(spec.commandLine().getOut(), endpoints, seconds);
                if (endpoints.isEmpty()) {
                    spec.commandLine().getErr().println("busprobe: " + empty);
                    spec.commandLine().getErr().flush();
                }
            } else {
                TopicView.printTable(spec.commandLine().getOut(), endpoints, "topics of bus clients' sends over the "
                        + "last " + Units.seconds(seconds) + ", most retransmitted segments first; their subscribers "
                        + "here now", empty,
                        Terminal.width());
            }
        }
        return 0;
    }

    /**
     * {@code busprobe endpoints reload}: SIGHUP to the daemon that holds the lock, then its verdict,
     * which the daemon publishes in its {@code agent_state} map: the same line as its log, and
     * exit 2 for a bad file.
     */
    @Command(name = "reload", header = "Have the daemon re-read its --config file",
            mixinStandardHelpOptions = true, versionProvider = BusprobeCommand.Version.class,
            description = "Ask the running daemon to re-read its endpoint config (its --config file) and print its "
                    + "verdict: the endpoints and rules now in force, or the file's error. A bad file exits 2 and the "
                    + "running config stays.",
            footer = {"", "EXAMPLES",
                    "  busprobe endpoints reload",
                    "  sudo kill -HUP $(pidof busprobe)             # the same, without the verdict",
                    "  systemctl reload busprobe                   # the same, under systemd",
                    "", "EXIT STATUS",
                    "  0  reloaded; 1  no daemon, or no verdict within " + Reload.VERDICT_SECONDS + " s;",
                    "  2  the file was rejected (the daemon keeps the running config)"})
    static final class Reload implements Callable<Integer> {
        private static final int SIGHUP = 1;
        /** How long to wait for the daemon's verdict: its consumer loop handles the signal after a poll. */
        static final int VERDICT_SECONDS = 10;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws InterruptedException {
            try (RunningDaemon daemon = RunningDaemon.find(PinDir.resolve())) {
                daemon.state(); // it has published: its SIGHUP handler is in place
                long asked = System.nanoTime();
                Sys.kill((int) daemon.pid(), SIGHUP);
                long deadline = asked + VERDICT_SECONDS * 1_000_000_000L;
                AgentState.Reload verdict = daemon.state().reload();
                while (verdict.startedNanos() < asked && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                    daemon.requireStillRunning();
                    verdict = daemon.state().reload();
                }
                String who = "busprobe daemon (pid " + daemon.pid() + ")";
                if (verdict.startedNanos() < asked) {
                    throw new IllegalStateException("the " + who + " got SIGHUP but published no verdict within "
                            + VERDICT_SECONDS + " s; its log says how the reload went");
                }
                switch (verdict.result()) {
                    case OK -> {
                        spec.commandLine().getOut().println(who + ": " + verdict.message());
                        spec.commandLine().getOut().flush();
                        return 0;
                    }
                    case BAD_CONFIG -> {
                        spec.commandLine().getErr().println("busprobe: " + verdict.message());
                        spec.commandLine().getErr().flush();
                        return BusprobeCommand.EXIT_USAGE;
                    }
                    default -> {
                        spec.commandLine().getErr().println("busprobe: " + verdict.message());
                        spec.commandLine().getErr().flush();
                        return BusprobeCommand.EXIT_FAILURE;
                    }
                }
            }
        }
    }
}
