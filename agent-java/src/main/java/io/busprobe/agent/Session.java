package io.busprobe.agent;

import io.busprobe.bpf.BusprobeObject;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.ffi.Preflight;
import io.busprobe.maps.KindStats;
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
        return start(families, ringSize, pinDir, reuseConfig, endpoints, Set.of());
    }

    /** As above, with {@code absent} probes treated as missing from the kernel (partial-attach tests). */
    public static Session start(Set<Family> families, long ringSize, java.nio.file.Path pinDir, boolean reuseConfig,
                                EndpointConfig endpoints, Set<Probe> absent) {
        Preflight.loader();
        BusprobeObject bpf = BusprobeObject.open();
        try {
            bpf.ringSize(ringSize).families(families).absent(absent);
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
     * The consume loop of {@code run}, {@code trace} and the tests: poll the ring until {@code stop}
     * says so or {@code deadlineNanos} ({@code System.nanoTime()}; {@code Long.MAX_VALUE} for none)
     * passes, waiting at most {@code pollMs} for records and never past the deadline, and call
     * {@code afterPoll} after each poll. Call it from one thread, the ring's only consumer.
     */
    public void consume(BooleanSupplier stop, long deadlineNanos, int pollMs, RecordHandler handler,
                        AfterPoll afterPoll) {
        while (!stop.getAsBoolean()) {
            long now = System.nanoTime();
            if (now >= deadlineNanos) {
                return;
            }
            int timeoutMs = deadlineNanos == Long.MAX_VALUE ? pollMs
                    : (int) Math.min(pollMs, Math.max(1, (deadlineNanos - now) / 1_000_000));
            afterPoll.afterPoll(ring.poll(handler, timeoutMs), System.nanoTime());
        }
    }

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
