package io.busprobe.agent;

import io.busprobe.bpf.BusprobeObject;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.TrafficRefresh;
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
import io.busprobe.maps.SocketTable;
import io.busprobe.maps.TopicMaps;
import io.busprobe.metrics.AgentMetrics;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.sink.EndpointNames;
import io.busprobe.sink.JsonSink;
import io.busprobe.text.Messages;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The long-running agent behind {@code busprobe run}: owns the kernel session
 * (maps pinned for the control plane), the metrics server, the degradation
 * controller and the state it publishes for {@code busprobe status}.
 *
 * <p>Resources are acquired in {@link #start} and released in reverse by
 * {@link #close}. {@link #run} is the consumer loop and must be called from a
 * single thread; that thread only consumes. The periodic work runs on three
 * scheduled threads of its own, started and stopped by {@link #run}:
 * {@code busprobe-control} (degrader, published state, config reloads, summaries,
 * every {@link Degrader#TICK_MILLIS} ms, and every {@link #IDLE_TICK_MILLIS} ms while
 * nothing happens; a config file change reaches it at once through {@link ConfigWatch}) and
 * {@code busprobe-refresh} (the endpoint traffic refresh, once a second, which enters every
 * network namespace) and
 * {@code busprobe-kafka} (Kafka topic IDs to names, every {@link KafkaTopicNames#PERIOD_SECONDS} s,
 * which may wait on a broker).
 *
 * {@snippet :
 * try (Daemon d = Daemon.start(new Daemon.Options(8 << 20, 65536, 2, PinDir.resolve(), false, "0.0.0.0:19477", null,
 *         EndpointConfig.defaults(), null, Set.of(), 50), log)) {
 *     d.run(() -> stopRequested, Long.MAX_VALUE, Duration.ofSeconds(60)); // d.wakeup() once stopRequested
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
     * @param topicTop     per endpoint, how many topics get series of their own in the metrics
     */
    public record Options(long ringSize, int socketTableSize, int pollMs, Path pinDir, boolean resetConfig,
                          String metricsAddress, Path endpointConfig, EndpointConfig endpoints, String events,
                          java.util.Set<Probe> absentProbes, int topicTop) {
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
    private final KafkaTopicNames kafkaNames;

    private Daemon(Options options, Consumer<String> log) {
        this.options = options;
        this.log = log;
        // the cheap, fallible parts first, nothing touched before them: the host (root, BTF, libbpf),
        // then a bad --events path
        Preflight.loader();
        this.configStamp = ConfigStamp.of(options.endpointConfig()); // the version RunCommand just read
        this.endpointNames = new EndpointNames(options.endpoints());
        this.eventStream = openEventStream(options.events(), endpointNames, this::topicName);
        DaemonLock l = null;
        Session s = null;
        AgentMetrics m = null;
        try {
            l = DaemonLock.acquire(options.pinDir());
            // the port, then the pin directory, before the kernel: each fails with nothing loaded or pinned
            m = AgentMetrics.listen(options.metricsAddress());
            PinDir.prepare(options.pinDir());
            s = Session.start(EnumSet.allOf(Family.class), options.ringSize(), options.socketTableSize(), options.pinDir(),
                    !options.resetConfig(), options.endpoints(), options.absentProbes());
            m.attach(new SessionSource(s), options.topicTop());
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
        this.kafkaNames = new KafkaTopicNames(s.bpf().topicMaps(), log);
        this.drops = new DropAdvice(Map.of()); // kind_stats starts at zero with each daemon
    }

    /** A retransmit record's topic, for --events; records are read only once the session is up. */
    private TopicMaps.Name topicName(long tag) {
        return session.bpf().topicMaps().name(tag);
    }

    private static JsonSink openEventStream(String target, EndpointNames names,
                                            java.util.function.LongFunction<TopicMaps.Name> topics) {
        if (target == null) {
            return null;
        }
        try {
            java.io.OutputStream out = target.equals("-") ? new java.io.FileOutputStream(java.io.FileDescriptor.out)
                    : java.nio.file.Files.newOutputStream(Path.of(target), StandardOpenOption.CREATE,
                            StandardOpenOption.APPEND);
            return new JsonSink(new java.io.BufferedOutputStream(out, 1 << 16), names, topics);
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
    /** Whether a refresh's unreachable namespaces are news for the log. */
    private final TrafficRefresh.Log unreachableNews = new TrafficRefresh.Log();

    /**
     * Endpoint traffic refresh, on busprobe-refresh; a failure is logged (once per distinct cause)
     * and retried next second. Namespaces it cannot enter are logged once, naming the missing
     * capability, and again only for one the last line did not name ({@link TrafficRefresh.Log};
     * busprobe_netns_unreachable has the count).
     * {@code paced}: see {@link BusprobeObject#refreshTraffic(boolean)}.
     */
    private TrafficRefresh refreshTraffic(boolean paced) {
        TrafficRefresh r;
        try {
            r = session.bpf().refreshTraffic(paced);
            lastRefreshError = null;
        } catch (RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            if (!msg.equals(lastRefreshError)) {
                log.accept("endpoint traffic refresh failed, retrying every second: " + msg);
                lastRefreshError = msg;
            }
            return null;
        }
        String news = unreachableNews.next(r);
        if (news != null) {
            log.accept(news);
        }
        adviseOnEvictions(System.nanoTime());
        return r;
    }

    /**
     * Refreshes in a row that walked no busy namespace (none moved more than a trickle of TCP
     * segments since its last walk); busprobe-refresh only. After {@link #QUIET_REFRESHES} of them
     * the refresh runs every {@link #QUIET_REFRESH_SECONDS} s instead of every second, and it is
     * back at once a second after the first busy walk: reading each namespace's
     * /proc/PID/net/snmp (~0.2 ms) and rescanning /proc for namespaces (~5 ms every 10 s) were most
     * of an idle daemon's CPU. A connection that starts sending after a quiet spell is counted up to
     * 5 s later (or at its first retransmit or close), then every second again.
     */
    private int quietRefreshes;
    static final int QUIET_REFRESHES = 10;
    static final int QUIET_REFRESH_SECONDS = 5;

    private void refreshAndReschedule() {
        TrafficRefresh r = refreshTraffic(true);
        quietRefreshes = r != null && r.busy() == 0 ? quietRefreshes + 1 : 0;
        ScheduledExecutorService s = refresh;
        if (s == null) {
            return; // run() is stopping
        }
        try {
            s.schedule(() -> periodic(this::refreshAndReschedule),
                    quietRefreshes >= QUIET_REFRESHES ? QUIET_REFRESH_SECONDS : 1, TimeUnit.SECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // run() is stopping
        }
    }

    /** Evictions as of the last advice line, and when it was logged; busprobe-refresh only. */
    private long evictionsAdvised;
    private long evictionsAdvisedNanos;
    /** At most one advice line an hour: evictions under steady pressure go on, the counter says how many. */
    private static final long EVICTION_ADVICE_NANOS = 3_600_000_000_000L;

    /**
     * The refresh is where most evictions are seen (it looks at every socket with a base): after
     * it, one line when the socket table evicted since the last line, at most once an hour.
     */
    private void adviseOnEvictions(long now) {
        long evicted = session.bpf().socketTableEvictions();
        if (evicted <= evictionsAdvised || (evictionsAdvised > 0 && now - evictionsAdvisedNanos < EVICTION_ADVICE_NANOS)) {
            return;
        }
        int size = session.bpf().socketTableSize();
        log.accept("the socket table (" + size + " entries) evicted " + (evicted - evictionsAdvised)
                + " established connection(s): counters stay exact, but those sockets lost their owner; raise "
                + "--socket-table-size above the host's TCP sockets (e.g. " + Math.min(SocketTable.MAX_SIZE,
                (long) size * 4) + ")");
        evictionsAdvised = evicted;
        evictionsAdvisedNanos = now;
    }

    /** Ask the control thread to re-read the endpoint config (what SIGHUP does). */
    public void requestReload() {
        reloadRequested = true;
        onControl(this::reloadIfRequested, 0);
    }

    /**
     * A {@link ConfigWatch} event: the file is looked at {@link #CONFIG_SETTLE_MILLIS} ms later, so
     * that a file written in two steps (truncated, then filled) is read once it is whole.
     */
    private void configEvent() {
        onControl(this::reloadIfConfigChanged, CONFIG_SETTLE_MILLIS);
    }

    private static final int CONFIG_SETTLE_MILLIS = 100;

    /**
     * Runs {@code task} on busprobe-control {@code delayMillis} from now (0: at once), from any
     * thread, while {@link #run} runs; before it, and once it is stopping, not at all.
     */
    private void onControl(Runnable task, long delayMillis) {
        ScheduledExecutorService c = control;
        if (c != null) {
            try {
                c.schedule(() -> periodic(task), delayMillis, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                // run() is stopping: the task would not outlive the daemon
            }
        }
    }

    private void reloadIfRequested() {
        if (reloadRequested) {
            reloadRequested = false;
            reloadEndpoints();
        }
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
     * At each event of the {@link ConfigWatch}, and every {@link #IDLE_TICK_MILLIS} ms in case the
     * file system sends none: a --config file that changed is re-read, as on SIGHUP. This is how a
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
    /** Written on busprobe-control (reloads), read anywhere. */
    private volatile EndpointConfig running;
    private final DropAdvice drops;

    /** The endpoint config in force: the one the daemon started with, or the last one reloaded. */
    public EndpointConfig endpoints() {
        return running;
    }

    /** The first summary comes after this at most. */
    public static final long FIRST_SUMMARY_NANOS = 10_000_000_000L;

    private long nextSummary;
    private long summaryNanos;
    /** The scheduled threads of {@link #run}; null before and after it. */
    private volatile ScheduledExecutorService control;
    private volatile ScheduledExecutorService refresh;
    /** A periodic task's unexpected failure: it ends {@link #run}, which rethrows it. */
    private volatile RuntimeException periodicFailure;
    /** The {@code stop} of {@link #run}, for the control tick. */
    private volatile BooleanSupplier stopRequested = () -> false;
    /** What the control tick saw last: records read, and whether it published a quiet state. */
    private long lastRecordsRead = -1;

    /**
     * How long the idle consumer sleeps in epoll before its loop turns once more (and beats the
     * heartbeat of /-/healthy, which fails after {@code AgentMetrics.STUCK_NANOS}, 30 s). The kernel
     * wakes it on the first record after it drained the ring, {@link #wakeup} when it must stop,
     * and the control tick when records wait that the kernel did not wake it for; so this bounds
     * none of them. A 250 ms wait was 4 of an idle daemon's 15 wakeups a second.
     */
    static final int IDLE_WAIT_MS = 10_000;

    /**
     * Consume until {@code stop} or {@code deadlineNanos} ({@code System.nanoTime()}; {@code Long.MAX_VALUE}
     * for none), with the control and refresh threads beside; then detach and drain. Call
     * {@link #wakeup} once {@code stop} turned true, or the idle consumer notices it at the next
     * control tick, up to {@link #IDLE_TICK_MILLIS} ms later.
     */
    public void run(BooleanSupplier stop, long deadlineNanos, Duration summaryInterval) {
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
        // the first summary comes early, whatever the interval: a new operator sees the daemon work
        nextSummary = System.nanoTime() + Math.min(summaryNanos, FIRST_SUMMARY_NANOS);
        publishState(System.nanoTime());
        stopRequested = stop;
        ScheduledExecutorService c = scheduler("busprobe-control");
        ScheduledExecutorService r = scheduler("busprobe-refresh");
        ScheduledExecutorService k = scheduler("busprobe-kafka");
        control = c;
        refresh = r;
        ConfigWatch watch = ConfigWatch.start(options.endpointConfig(), this::configEvent, log);
        try {
            c.execute(() -> nextTick = c.schedule(() -> periodic(this::tickAndReschedule), Degrader.TICK_MILLIS,
                    TimeUnit.MILLISECONDS));
            // once a second, every 5 s on a quiet host: see refreshAndReschedule
            r.schedule(() -> periodic(this::refreshAndReschedule), 1, TimeUnit.SECONDS);
            // fixed delay: a pass that waited on a slow broker is not followed at once by the next
            k.scheduleWithFixedDelay(() -> periodic(() -> kafkaNames.resolve(running)), 1,
                    KafkaTopicNames.PERIOD_SECONDS, TimeUnit.SECONDS);
            if (reloadRequested) {
                c.execute(() -> periodic(this::reloadIfRequested)); // a SIGHUP that came before run()
            }
            session.consume(() -> periodicFailure != null || stop.getAsBoolean(), deadlineNanos, options.pollMs(),
                    IDLE_WAIT_MS, handler, this::afterPoll);
        } finally {
            if (watch != null) {
                watch.close();
            }
            control = null;
            refresh = null;
            stopScheduler(c);
            stopScheduler(r);
            stopScheduler(k);
            kafkaNames.close();
        }
        if (periodicFailure != null) {
            throw periodicFailure;
        }
        refreshTraffic(false);
        session.stopAndDrain(handler);
        publishState(System.nanoTime());
    }

    private static ScheduledExecutorService scheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name(name).daemon().factory());
    }

    /** Let a running task finish (a refresh is inside a namespace, a reload halfway through its maps). */
    private static void stopScheduler(ScheduledExecutorService s) {
        s.shutdown();
        try {
            if (!s.awaitTermination(30, TimeUnit.SECONDS)) {
                s.shutdownNow();
            }
        } catch (InterruptedException e) {
            s.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** A scheduled task: what it did not handle itself stops the daemon, as it did on the consumer thread. */
    private void periodic(Runnable task) {
        try {
            task.run();
        } catch (RuntimeException e) {
            if (periodicFailure == null) {
                periodicFailure = e;
            }
            session.wakeup();
        }
    }

    /** End the consumer's wait now, from any thread: call it once the {@code stop} of {@link #run} turned true. */
    public void wakeup() {
        session.wakeup();
    }

    /**
     * After each drain, on the consumer thread: flush the event stream, beat the heartbeat, and
     * when records come while the control tick has slowed down, ask for a tick now. Nothing else.
     */
    private void afterPoll(int records, long now) {
        if (records > 0) {
            if (eventStream != null) {
                eventStream.flush();
            }
            if (controlSlow) {
                controlSlow = false;
                onControl(this::tickNow, 0);
            }
        }
        metrics.heartbeat(now);
    }

    /**
     * The control tick's period while nothing happens: the degrader has nothing to do then (a drop
     * needs a full ring), a SIGHUP or a config file change runs its reload at once on the control
     * thread ({@link #requestReload}, {@link ConfigWatch}), and a summary that falls due is waited
     * for; so the idle tick is only a fallback: for a config file on a file system that sends no
     * change events, for a stop nobody woke the consumer for, and for records written under the
     * {@code never} wakeup policy while the consumer slept (found up to this late). At once a second
     * it was about 0.05 % of an idle daemon's core (bench/idle). The first records the consumer reads
     * bring the tick back to {@link Degrader#TICK_MILLIS} at once ({@link #afterPoll}).
     */
    static final int IDLE_TICK_MILLIS = 10_000;
    /** The next control tick; busprobe-control only. */
    private java.util.concurrent.ScheduledFuture<?> nextTick;
    /** The control tick runs every {@link #IDLE_TICK_MILLIS}; set on busprobe-control, cleared by the consumer. */
    private volatile boolean controlSlow;

    /** One control tick, then the next one scheduled: soon while anything happens, in a second when not. */
    private void tickAndReschedule() {
        boolean busy = controlTick();
        ScheduledExecutorService c = control;
        if (c == null) {
            return; // run() is stopping
        }
        controlSlow = !busy;
        long delayMillis = Degrader.TICK_MILLIS;
        if (!busy) {
            long toSummary = Math.max(Degrader.TICK_MILLIS, (nextSummary - System.nanoTime()) / 1_000_000 + 1);
            delayMillis = Math.min(IDLE_TICK_MILLIS, toSummary);
        }
        try {
            nextTick = c.schedule(() -> periodic(this::tickAndReschedule), delayMillis, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // run() is stopping
        }
    }

    /** The consumer read records while the tick was slow: tick now instead of at the slow tick's time. */
    private void tickNow() {
        java.util.concurrent.ScheduledFuture<?> pending = nextTick;
        // on busprobe-control, so the pending tick is not running; cancel fails only if it already ran,
        // and then it scheduled the next one itself
        if (pending != null && pending.cancel(false)) {
            tickAndReschedule();
        }
    }

    /**
     * Every {@link Degrader#TICK_MILLIS} ms on busprobe-control while anything happens, every
     * {@link #IDLE_TICK_MILLIS} when not. Lazy: when no record was read since the last tick, none
     * is pending and nothing is thinned, no drop can have happened (a drop needs a full ring) and
     * the published state is unchanged, so the degrader and the state map are left alone; the
     * config file is looked at every {@link #IDLE_TICK_MILLIS} ms (a fallback: {@link ConfigWatch}
     * calls for a look at each change), the summary when due. Returns whether anything happened.
     */
    private boolean controlTick() {
        long now = System.nanoTime();
        reloadIfRequested();
        if (now - configLooked >= CONFIG_LOOK_NANOS) {
            configLooked = now;
            reloadIfConfigChanged();
        }
        long read = session.ring().recordsRead();
        long pending = session.ring().pendingBytes();
        // the idle consumer sleeps up to IDLE_WAIT_MS: wake it for what it cannot see itself, a stop
        // nobody woke it for, and records the kernel did not wake it for (the `never` wakeup policy,
        // set by `busprobe sample` while it slept)
        if (stopRequested.getAsBoolean() || (pending != 0 && read == lastRecordsRead)) {
            session.wakeup();
        }
        boolean busy = read != lastRecordsRead || pending != 0 || degrader.active();
        if (busy) {
            degrader.tick();
            publishState(now);
            lastRecordsRead = read;
        }
        if (now >= nextSummary) {
            log.accept(summaryLine());
            nextSummary = now + summaryNanos;
        }
        return busy;
    }

    /** When the control tick last looked at the config file; busprobe-control only. */
    private long configLooked = System.nanoTime();
    private static final long CONFIG_LOOK_NANOS = IDLE_TICK_MILLIS * 1_000_000L;

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
        kafkaNames.close();
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

    /**
     * Log sink that prefixes a timestamp, for {@code run}'s stderr; a line carries paths and names
     * the daemon did not choose, so it is escaped to one printable line.
     */
    public static Consumer<String> stderrLog(java.io.PrintWriter err) {
        return line -> {
            err.println(timestamped(Messages.oneLine(line)));
            err.flush();
        };
    }
}
