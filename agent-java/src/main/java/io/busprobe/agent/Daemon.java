package io.busprobe.agent;

import io.busprobe.bpf.Probe;
import io.busprobe.connection.ConnectionTable;
import io.busprobe.endpoint.ConfigException;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.event.EventView;
import io.busprobe.ffi.Preflight;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.PinDir;
import io.busprobe.metrics.AgentMetrics;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.sink.EndpointNames;
import io.busprobe.sink.JsonSink;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The long-running agent behind {@code busprobe run}: owns the kernel session
 * (maps pinned for the control plane), the metrics server, the degradation
 * controller and the state it publishes for {@code busprobe status}.
 *
 * <p>Resources are acquired in {@link #start} and released in reverse by
 * {@link #close}. {@link #run} is the consumer loop and must be called from a
 * single thread.
 *
 * {@snippet :
 * try (Daemon d = Daemon.start(new Daemon.Options(8 << 20, 2, PinDir.resolve(), false, "0.0.0.0:19477", null,
 *         EndpointConfig.defaults(), null, Set.of()), log)) {
 *     d.run(() -> stopRequested, Duration.ofSeconds(60));
 * }
 * }
 */
public final class Daemon implements AutoCloseable {
    /**
     * @param resetConfig start from default sampling instead of the pinned operator config
     * @param metricsAddress HOST:PORT for /metrics
     */
    /**
     * @param events       where to write the JSON-lines event stream ("-" for stdout), or null for none
     * @param absentProbes probes to treat as missing from this kernel (a hidden test option: it drives the
     *                     real partial-attach path on a kernel that has every hook)
     */
    public record Options(long ringSize, int pollMs, Path pinDir, boolean resetConfig, String metricsAddress,
                          Path endpointConfig, EndpointConfig endpoints, String events,
                          java.util.Set<Probe> absentProbes) {
    }

    private final Options options;
    private final Consumer<String> log;
    private final DaemonLock lock;
    private final Session session;
    private final AgentMetrics metrics;
    private final Degrader degrader;
    private final long startedNanos = System.nanoTime();
    private final long[] readByKind = new long[EventKind.MAX];
    private final int probesAttached;
    private volatile boolean reloadRequested;
    private final ConnectionTable connections;
    private final EndpointNames endpointNames;
    private final JsonSink eventStream;

    private Daemon(Options options, Consumer<String> log) {
        this.options = options;
        this.log = log;
        // the cheap, fallible parts first, nothing touched before them: the host (root, BTF, libbpf),
        // then a bad --events path
        Preflight.loader();
        this.configStamp = ConfigStamp.of(options.endpointConfig()); // the version RunCommand just read
        this.endpointNames = new EndpointNames(options.endpoints());
        this.eventStream = openEventStream(options.events(), endpointNames);
        DaemonLock l = null;
        Session s = null;
        AgentMetrics m = null;
        try {
            l = DaemonLock.acquire(options.pinDir());
            // the port, then the pin directory, before the kernel: each fails with nothing loaded or pinned
            m = AgentMetrics.listen(options.metricsAddress());
            PinDir.prepare(options.pinDir());
            s = Session.start(EnumSet.allOf(Family.class), options.ringSize(), options.pinDir(),
                    !options.resetConfig(), options.endpoints(), options.absentProbes());
            m.attach(new SessionSource(s));
        } catch (RuntimeException e) {
            closeQuietly(s, m, l);
            closeEvents();
            throw e;
        }
        this.lock = l;
        this.session = s;
        this.metrics = m;
        this.degrader = new Degrader(s.bpf().control(), s.ring(), line -> log.accept(line));
        m.degradation(degrader::active);
        int bits = 0;
        for (EventKind k : EventKind.values()) {
            if (s.attached(k)) {
                bits |= 1 << k.id();
            }
        }
        this.probesAttached = bits;
        this.connections = new ConnectionTable(eventStream == null ? null : eventStream::connection);
        this.running = options.endpoints();
        this.drops = new DropAdvice(Map.of()); // kind_stats starts at zero with each daemon
        // from here on a SIGHUP reloads; before, the JVM's default would have ended the process
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), sig -> requestReload());
    }

    private static JsonSink openEventStream(String target, EndpointNames names) {
        if (target == null) {
            return null;
        }
        try {
            java.io.OutputStream out = target.equals("-") ? new java.io.FileOutputStream(java.io.FileDescriptor.out)
                    : java.nio.file.Files.newOutputStream(Path.of(target), StandardOpenOption.CREATE,
                            StandardOpenOption.APPEND);
            return new JsonSink(new java.io.BufferedOutputStream(out, 1 << 16), names);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new UncheckedIOException("cannot open --events " + target + ": its directory does not exist", e);
        } catch (java.nio.file.AccessDeniedException e) {
            throw new UncheckedIOException("cannot open --events " + target + ": permission denied", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open --events " + target + ": " + e.getMessage(), e);
        }
    }

    public static Daemon start(Options options, Consumer<String> log) {
        return new Daemon(options, log);
    }

    public Session session() {
        return session;
    }

    public boolean configReused() {
        return session.bpf().configReused();
    }

    /** The port /metrics is served on: the kernel's pick when {@code :0} was asked for. */
    public int metricsPort() {
        return metrics.port();
    }

    private String lastRefreshError;

    /** Endpoint traffic refresh; a failure is logged (once per distinct cause) and retried next second. */
    private void refreshTraffic() {
        try {
            session.bpf().refreshTraffic();
            lastRefreshError = null;
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            if (!msg.equals(lastRefreshError)) {
                log.accept("endpoint traffic refresh failed, retrying every second: " + msg);
                lastRefreshError = msg;
            }
        }
    }

    /** Ask the consumer loop to re-read the endpoint config (what SIGHUP does). */
    public void requestReload() {
        reloadRequested = true;
    }

    /**
     * What identifies one version of the config file: where its path resolves to (a Kubernetes
     * ConfigMap swaps a symlink), its inode, size and modification time.
     */
    record ConfigStamp(Path real, Object fileKey, long size, java.nio.file.attribute.FileTime modified) {
        /** The file's stamp now, or null when it cannot be read (then the running config stays). */
        static ConfigStamp of(Path file) {
            if (file == null) {
                return null;
            }
            try {
                var a = java.nio.file.Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
                return new ConfigStamp(file.toRealPath(), a.fileKey(), a.size(), a.lastModifiedTime());
            } catch (IOException e) {
                return null;
            }
        }
    }

    private ConfigStamp configStamp;

    /**
     * Once a second: a --config file that changed is re-read, as on SIGHUP. This is how a
     * ConfigMap edit reaches a pod, and it spares a host's operator the signal.
     */
    private void reloadIfConfigChanged() {
        ConfigStamp now = ConfigStamp.of(options.endpointConfig());
        if (now != null && !now.equals(configStamp)) {
            configStamp = now;
            log.accept("endpoint config " + options.endpointConfig() + " changed");
            reloadEndpoints();
        }
    }

    /**
     * Re-read the endpoint config; a bad file keeps the running config and says why. The verdict
     * is logged and published ({@code busprobe endpoints reload} waits for it).
     */
    void reloadEndpoints() {
        long started = System.nanoTime();
        AgentState.Result result;
        String message;
        try {
            EndpointConfig next = EndpointConfig.loadOrDefaults(options.endpointConfig());
            session.bpf().endpointMaps().install(next);
            endpointNames.update(next);
            running = next;
            result = AgentState.Result.OK;
            message = "endpoints reloaded: " + next.endpoints().size() + " endpoint(s), " + next.lpmEntries().size()
                    + " rule(s)" + (options.endpointConfig() == null ? " (defaults)" : " from " + options.endpointConfig());
        } catch (ConfigException e) {
            result = AgentState.Result.BAD_CONFIG;
            message = "endpoints not reloaded, keeping the running config: " + e.getMessage();
        } catch (RuntimeException e) {
            // a kernel-side failure (e.g. the rule map is full) must not take the daemon down
            result = AgentState.Result.FAILED;
            message = "endpoints reload failed, rules may be partly updated: " + e.getMessage();
        }
        log.accept(message);
        lastReload = new AgentState.Reload(started, result, message);
        publishState(System.nanoTime());
    }

    private AgentState.Reload lastReload = AgentState.Reload.NONE;
    private EndpointConfig running;
    private final DropAdvice drops;

    /** The endpoint config in force: the one the daemon started with, or the last one reloaded. */
    public EndpointConfig endpoints() {
        return running;
    }

    /** The first summary comes after this at most. */
    public static final long FIRST_SUMMARY_NANOS = 10_000_000_000L;

    private long nextTick;
    private long ticks;
    private long nextSummary;
    private long summaryNanos;

    /** Consume, control and report until {@code stop}; then detach and drain. */
    public void run(BooleanSupplier stop, Duration summaryInterval) {
        EventView view = new EventView();
        // the per-event path: what cannot be read from a kernel map, nothing allocated
        RecordHandler handler = (data, offset, length) -> {
            EventView ev = view.wrap(data, offset);
            readByKind[ev.kindId() % readByKind.length]++;
            metrics.onEvent(ev.tsNanos());
            connections.onEvent(ev);
            if (eventStream != null) {
                eventStream.event(ev); // opt-in (--events): JSON encoding allocates
            }
        };
        summaryNanos = summaryInterval.toNanos();
        nextTick = System.nanoTime();
        // the first summary comes early, whatever the interval: a new operator sees the daemon work
        nextSummary = nextTick + Math.min(summaryNanos, FIRST_SUMMARY_NANOS);
        session.consume(stop, Long.MAX_VALUE, options.pollMs(), handler, this::afterPoll);
        refreshTraffic();
        session.stopAndDrain(handler);
        publishState(System.nanoTime());
    }

    /** Between polls, on the consumer thread: flush, heartbeat, and what is due of the periodic work. */
    private void afterPoll(int records, long now) {
        if (records > 0 && eventStream != null) {
            eventStream.flush();
        }
        metrics.heartbeat(now);
        if (reloadRequested) {
            reloadRequested = false;
            reloadEndpoints();
        }
        if (now >= nextTick) {
            if (++ticks % 4 == 0) {
                refreshTraffic(); // once a second: see refresh_tcp_traffic in bpf/tcp_state.bpf.c
                reloadIfConfigChanged();
            }
            degrader.tick();
            publishState(now);
            nextTick = now + Degrader.TICK_MILLIS * 1_000_000L;
        }
        if (now >= nextSummary) {
            log.accept(summaryLine());
            nextSummary = now + summaryNanos;
        }
    }

    private void publishState(long now) {
        session.bpf().control().agentState(new AgentState((int) ProcessHandle.current().pid(), degrader.active(),
                now, startedNanos, session.ring().size(), session.ring().pendingBytes(), readByKind.clone(),
                probesAttached, lastReload, running.endpoints().size(), running.lpmEntries().size()));
    }

    /**
     * {@code retransmit=5 state=1234 connections=17 read=1239 dropped=0 pending=0B degraded=no}, the
     * kinds that were seen in kind order; after drops, what to raise ({@link DropAdvice}).
     */
    public String summaryLine() {
        StringBuilder sb = new StringBuilder();
        long dropped = 0;
        Map<EventKind, KindStats> stats = session.stats();
        for (Map.Entry<EventKind, KindStats> e : stats.entrySet()) {
            KindStats k = e.getValue();
            dropped += k.dropped();
            if (k.seen() > 0) {
                sb.append(e.getKey().label()).append('=').append(k.seen()).append(' ');
            }
        }
        return sb.append("connections=").append(connections.size())
                .append(" read=").append(session.ring().recordsRead())
                .append(" dropped=").append(dropped)
                .append(" pending=").append(session.ring().pendingBytes()).append('B')
                .append(" degraded=").append(degrader.active() ? "yes" : "no")
                .append(adviceAfterDrops(stats)).toString();
    }

    private String adviceAfterDrops(Map<EventKind, KindStats> stats) {
        DropAdvice.Advice advice = drops.since(stats, session.ring().size(),
                k -> session.bpf().control().sampling(k).every());
        return advice == null ? "" : "; since the last summary " + advice.forDaemon();
    }

    @Override
    public void close() {
        closeEvents();
        closeQuietly(session, metrics, lock);
    }

    private void closeEvents() {
        if (eventStream != null) {
            eventStream.close();
        }
    }

    private static void closeQuietly(Session s, AgentMetrics m, DaemonLock l) {
        RuntimeException first = null;
        for (AutoCloseable c : new AutoCloseable[] {m, s, l}) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    static String timestamped(String line) {
        return Instant.now() + " busprobe: " + line;
    }

    /** Log sink that prefixes a timestamp, for {@code run}'s stderr. */
    public static Consumer<String> stderrLog(java.io.PrintWriter err) {
        return line -> {
            err.println(timestamped(line));
            err.flush();
        };
    }
}
