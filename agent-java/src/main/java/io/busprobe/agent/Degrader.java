package io.busprobe.agent;

import io.busprobe.event.EventKind;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.ringbuf.RingBuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Consumer;

/**
 * Automatic degradation: when the ring overflows or fills up, thin the
 * noisiest kinds by raising their automatic 1-in-N; when pressure has been gone
 * for a while, step back towards the operator's setting.
 *
 * <p>It only ever writes the {@code sampling_auto} map. The kernel applies the
 * stricter of that and the operator's {@code sampling} map, so the operator's
 * setting is a ceiling this never exceeds, and {@code --no-auto} exempts a kind.
 * Counters are never affected: degradation thins exemplars, not facts.
 *
 * <p>Called from one thread (the daemon's busprobe-control), every {@link #TICK_MILLIS} ms while
 * records flow, are pending or a kind is thinned, and not at all while nothing happens; calm is
 * measured in time, not in ticks, so the way back takes {@link #CALM_NANOS}, to the next look.
 */
public final class Degrader {
    public static final int TICK_MILLIS = 250;
    /** Highest automatic 1-in-N. */
    static final int MAX_EVERY = 4096;
    /** Ring fill above which the ring counts as under pressure even without drops. */
    static final double PRESSURE_FILL = 0.5;
    /** Ring fill below which a tick counts as calm. */
    static final double CALM_FILL = 0.1;
    /** Calm time before each step back. */
    static final long CALM_NANOS = 5_000_000_000L;
    /** A kind is among the noisiest when it made at least this share of the tick's records. */
    static final double NOISY_SHARE = 0.25;

    private final ControlMaps maps;
    private final RingBuffer ring;
    private final Consumer<String> log;
    private final long[] lastAttempts = new long[EventKind.MAX];
    private final long[] lastDropped = new long[EventKind.MAX];
    /** Read by the metrics scrape thread: atomic so that it always sees the last decision. */
    private final AtomicIntegerArray every = new AtomicIntegerArray(EventKind.MAX);
    /** {@code System.nanoTime()} since which every look was calm; 0 when the last one was not. */
    private long calmSince;

    public Degrader(ControlMaps maps, RingBuffer ring, Consumer<String> log) {
        this.maps = maps;
        this.ring = ring;
        this.log = log;
        for (EventKind k : EventKind.values()) {
            every.set(k.id(), 1);
            maps.autoEvery(k, 1);
            KindStats s = maps.kindStats(k);
            lastAttempts[k.id()] = s.submitted() + s.dropped();
            lastDropped[k.id()] = s.dropped();
        }
    }

    /** Whether any kind is currently thinned by the controller. */
    public boolean active() {
        for (int i = 0; i < every.length(); i++) {
            if (every.get(i) > 1) {
                return true;
            }
        }
        return false;
    }

    public void tick() {
        long drops = 0;
        long attempts = 0;
        long[] kindAttempts = new long[EventKind.MAX];
        for (EventKind k : EventKind.values()) {
            KindStats s = maps.kindStats(k);
            int i = k.id();
            long a = s.submitted() + s.dropped();
            kindAttempts[i] = a - lastAttempts[i];
            drops += s.dropped() - lastDropped[i];
            attempts += kindAttempts[i];
            lastAttempts[i] = a;
            lastDropped[i] = s.dropped();
        }
        double fill = ring.size() == 0 ? 0 : (double) ring.pendingBytes() / ring.size();
        long now = System.nanoTime();
        if (drops > 0 || fill > PRESSURE_FILL) {
            calmSince = 0;
            int factor = drops > 0 ? 4 : 2;
            List<String> changes = new ArrayList<>();
            for (EventKind k : EventKind.values()) {
                int i = k.id();
                int cur = every.get(i);
                if (attempts == 0 || kindAttempts[i] < NOISY_SHARE * attempts || cur >= MAX_EVERY
                        || maps.sampling(k).noAuto()) {
                    continue;
                }
                int next = Math.min(MAX_EVERY, cur * factor);
                changes.add(k.label() + " 1/" + cur + " -> 1/" + next);
                every.set(i, next);
                maps.autoEvery(k, next);
            }
            if (!changes.isEmpty()) {
                log.accept(String.format("ring pressure (%d drops, ring %.0f%% full in the last %d ms): "
                        + "automatic sampling %s", drops, fill * 100, TICK_MILLIS, String.join(", ", changes)));
            }
        } else if (fill >= CALM_FILL || !active()) {
            calmSince = 0; // calm means consecutive quiet looks while thinned
        } else if (calmSince == 0) {
            calmSince = now;
        } else if (now - calmSince >= CALM_NANOS) {
            calmSince = now;
            List<String> changes = new ArrayList<>();
            for (EventKind k : EventKind.values()) {
                int i = k.id();
                int cur = every.get(i);
                if (cur > 1) {
                    int next = Math.max(1, cur / 2);
                    changes.add(k.label() + " 1/" + cur + " -> 1/" + next);
                    every.set(i, next);
                    maps.autoEvery(k, next);
                }
            }
            log.accept("pressure gone for " + CALM_NANOS / 1_000_000_000L + " s: automatic sampling "
                    + String.join(", ", changes) + (active() ? "" : "; automatic degradation off"));
        }
    }
}
