package io.busprobe.agent;

import io.busprobe.bpf.BusprobeObject;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.ffi.Preflight;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.Settings;
import io.busprobe.maps.SocketTable;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.ringbuf.RingBuffer;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * One running instance of the kernel side: the BPF object loaded and attached
 * and its ring mapped, consumed by one thread. Shared by {@code trace},
 * {@code run} and {@code check}, and by the kernel tests.
 *
 * {@snippet :
 * try (Session s = Session.start(EnumSet.allOf(Family.class), 8 << 20)) {
 *     s.consume(() -> done, Long.MAX_VALUE, Session.DEFAULT_POLL_MS, handler, (records, now) -> { });
 *     s.stopAndDrain(handler);
 *     Map<EventKind, KindStats> exact = s.stats();
 * }
 * }
 */
public final class Session implements AutoCloseable {
    /** Poll timeout: the upper bound on delivery latency under the watermark wakeup policy. */
    public static final int DEFAULT_POLL_MS = 2;

    private final BusprobeObject bpf;
    private final RingBuffer ring;
    private final List<ProbeStatus> probes;

    private Session(BusprobeObject bpf, RingBuffer ring, List<ProbeStatus> probes) {
        this.bpf = bpf;
        this.ring = ring;
        this.probes = probes;
    }

    /** Open, configure, load and attach, then map the ring. Releases everything on failure. */
    public static Session start(Set<Family> families, long ringSize) {
        return start(families, ringSize, null, false, EndpointConfig.defaults());
    }

    /**
     * As {@link #start(Set, long)}, pinning the control maps under {@code pinDir}
     * (null: no pins), with {@code reuseConfig} keeping a pinned operator config,
     * and labelling sockets with the given bus endpoints.
     */
    public static Session start(Set<Family> families, long ringSize, java.nio.file.Path pinDir, boolean reuseConfig,
                                EndpointConfig endpoints) {
        return start(families, ringSize, SocketTable.DEFAULT_SIZE, pinDir, reuseConfig, endpoints, Set.of());
    }

    /**
     * As above, with a socket table of {@code socketTableSize} entries ({@code run --socket-table-size})
     * and {@code absent} probes treated as missing from the kernel (partial-attach tests).
     */
    public static Session start(Set<Family> families, long ringSize, int socketTableSize, java.nio.file.Path pinDir,
                                boolean reuseConfig, EndpointConfig endpoints, Set<Probe> absent) {
        Preflight.loader();
        BusprobeObject bpf = BusprobeObject.open();
        try {
            bpf.ringSize(ringSize).socketTableSize(socketTableSize).families(families).absent(absent);
            if (pinDir != null) {
                bpf.pin(pinDir, reuseConfig);
            }
            bpf.load();
            // rules before attach: the first event is already labelled
            bpf.endpointMaps().install(endpoints);
            List<ProbeStatus> probes = bpf.attach();
            RingBuffer ring = RingBuffer.map(bpf.ringFd(), bpf.ringSize());
            return new Session(bpf, ring, probes);
        } catch (RuntimeException e) {
            bpf.close();
            throw e;
        }
    }

    public List<ProbeStatus> probes() {
        return probes;
    }

    /** Whether a probe that writes records of {@code kind} attached (the attribution-only ones do not count). */
    public boolean attached(EventKind kind) {
        for (ProbeStatus p : probes) {
            if (p.attached() && p.probe().kinds().contains(kind) && !p.probe().learnsOnly()) {
                return true;
            }
        }
        return false;
    }

    public BusprobeObject bpf() {
        return bpf;
    }

    public RingBuffer ring() {
        return ring;
    }

    /** What the consume loop does after each poll, on the consumer thread. */
    @FunctionalInterface
    public interface AfterPoll {
        /**
         * @param records  how many records that poll handed to the handler
         * @param nowNanos {@code System.nanoTime()} right after it
         */
        void afterPoll(int records, long nowNanos);
    }

    /**
     * How long an idle consumer waits for the kernel's wakeup before it looks again (and beats its
     * heartbeat), for callers that do not {@link #wakeup} it when {@code stop} turns true: the
     * kernel wakes it on the first record after it drained the ring, so this bounds only how late
     * it notices {@code stop}, not delivery.
     */
    public static final int IDLE_WAIT_MS = 250;

    /**
     * As {@link #consume(BooleanSupplier, long, int, int, RecordHandler, AfterPoll)} with an idle
     * wait of {@link #IDLE_WAIT_MS}.
     */
    public void consume(BooleanSupplier stop, long deadlineNanos, int pollMs, RecordHandler handler,
                        AfterPoll afterPoll) {
        consume(stop, deadlineNanos, pollMs, IDLE_WAIT_MS, handler, afterPoll);
    }

    /**
     * The consume loop of {@code run}, {@code trace} and the tests: drain the ring until {@code stop}
     * says so or {@code deadlineNanos} ({@code System.nanoTime()}; {@code Long.MAX_VALUE} for none)
     * passes, calling {@code afterPoll} after each drain, and never waiting past the deadline.
     * Call it from one thread, the ring's only consumer.
     *
     * <p>While records flow it drains every {@code pollMs}, earlier when the kernel's watermark
     * wakeup comes. Once a drain finds the ring empty it waits for the kernel's wakeup on the next
     * record (bp_submit() in bpf/maps.bpf.h), up to {@code idleWaitMs} or until {@link #wakeup}:
     * the daemon, which wakes it when it must stop, waits {@code Daemon.IDLE_WAIT_MS}, so that an idle
     * daemon's consumer sleeps instead of turning 4 times a second. Under the {@code never}
     * wakeup policy it looks every {@code pollMs}.
     */
    public void consume(BooleanSupplier stop, long deadlineNanos, int pollMs, int idleWaitMs, RecordHandler handler,
                        AfterPoll afterPoll) {
        Settings settings = null;
        long settingsRead = 0;
        while (!stop.getAsBoolean()) {
            long now = System.nanoTime();
            if (now >= deadlineNanos) {
                return;
            }
            if (settings == null || now - settingsRead > SETTINGS_REREAD_NANOS) {
                settings = bpf.control().settings(); // `busprobe sample` may change the policy at any time
                settingsRead = now;
            }
            int records = ring.consume(handler);
            afterPoll.afterPoll(records, System.nanoTime());
            boolean idle = records == 0 && settings.wakeup() != Settings.Wakeup.NEVER;
            int waitMs = idle ? Math.max(pollMs, idleWaitMs) : pollMs;
            if (deadlineNanos != Long.MAX_VALUE) {
                waitMs = (int) Math.min(waitMs, Math.max(1, (deadlineNanos - System.nanoTime()) / 1_000_000));
            }
            if (idle) {
                ring.await(waitMs);
            } else {
                ring.gather(waitMs, settings.wakeup() == Settings.Wakeup.WATERMARK
                        ? Math.max(1, settings.watermark()) : 1);
            }
        }
    }

    /** End the consume loop's current or next wait now, from any thread: after {@code stop} turned true. */
    public void wakeup() {
        ring.wakeup();
    }

    /** How often the consume loop re-reads the wakeup policy and watermark. */
    private static final long SETTINGS_REREAD_NANOS = 1_000_000_000L;

    /**
     * Detach every probe, then read what is left in the ring, so that after
     * this records read == records submitted for every kind.
     */
    public void stopAndDrain(RecordHandler handler) {
        bpf.detach();
        ring.consume(handler);
    }

    /** Exact counters of every kind. */
    public Map<EventKind, KindStats> stats() {
        Map<EventKind, KindStats> m = new EnumMap<>(EventKind.class);
        for (EventKind k : EventKind.values()) {
            m.put(k, bpf.kindStats(k));
        }
        return m;
    }

    @Override
    public void close() {
        try {
            ring.close();
        } finally {
            bpf.close();
        }
    }
}
