package io.busprobe.agent;

import io.busprobe.event.EventKind;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.SampleSetting;
import io.busprobe.text.Units;

import java.util.Map;

/**
 * Records the ring dropped since the last look, and what to raise, by how much, so that they
 * stop: a bigger ring for bursts, thinner sampling of the noisiest kind for a rate the reader
 * cannot follow. The counters are exact either way; only records were lost.
 *
 * <p>The rule of thumb: of A records the kernel tried to write, D did not fit, so the reader took
 * A - D. Sampling the noisiest kind 1 in ceil(A / (A - D)), rounded up to a power of two, brings
 * the records under what was taken; a ring twice that factor larger absorbs a burst of the same
 * shape with room to spare.
 *
 * {@snippet :
 * DropAdvice drops = new DropAdvice(session.stats());
 * DropAdvice.Advice advice = drops.since(session.stats(), ringSize, k -> maps.sampling(k).every());
 * if (advice != null) log.accept(advice.forDaemon());
 * }
 */
public final class DropAdvice {
    private static final long MAX_RING = 1L << 30;

    private final long[] attempts = new long[EventKind.MAX];
    private final long[] dropped = new long[EventKind.MAX];

    /** Start counting from {@code now}: what was dropped before is not this one's to report. */
    public DropAdvice(Map<EventKind, KindStats> now) {
        remember(now);
    }

    private void remember(Map<EventKind, KindStats> now) {
        now.forEach((k, s) -> {
            attempts[k.id()] = s.submitted() + s.dropped();
            dropped[k.id()] = s.dropped();
        });
    }

    /**
     * The drops since the last call and what to raise, or null when none were dropped.
     *
     * @param operatorEvery the operator's 1-in-N of a kind now, which the advice multiplies
     */
    public Advice since(Map<EventKind, KindStats> now, long ringSize,
                        java.util.function.ToIntFunction<EventKind> operatorEvery) {
        long a = 0;
        long d = 0;
        EventKind noisiest = null;
        long noisiestAttempts = -1;
        for (Map.Entry<EventKind, KindStats> e : now.entrySet()) {
            int i = e.getKey().id();
            long ka = e.getValue().submitted() + e.getValue().dropped() - attempts[i];
            a += ka;
            d += e.getValue().dropped() - dropped[i];
            if (ka > noisiestAttempts) {
                noisiestAttempts = ka;
                noisiest = e.getKey();
            }
        }
        remember(now);
        return d <= 0 ? null : Advice.of(a, d, ringSize, noisiest,
                noisiest == null ? 1 : operatorEvery.applyAsInt(noisiest));
    }

    /**
     * What was dropped, and the remedies.
     *
     * @param ring     the ring size to raise {@code --ring-size} to; the ring's own size when it is at 1G already
     * @param noisiest the kind that tried to write the most records
     * @param every    the 1-in-N to sample it at instead
     */
    public record Advice(long attempts, long dropped, long ringSize, long ring, EventKind noisiest, long every) {
        static Advice of(long attempts, long dropped, long ringSize, EventKind noisiest, int currentEvery) {
            long taken = Math.max(1, attempts - dropped);
            long factor = Math.max(2, nextPowerOfTwo((attempts + taken - 1) / taken));
            long every = Math.min(SampleSetting.MAX_EVERY, Math.max(1, currentEvery) * factor);
            long ring = Math.max(ringSize, Math.min(MAX_RING, ringSize * 2 * factor));
            return new Advice(attempts, dropped, ringSize, ring, noisiest, every);
        }

        private String lost() {
            return dropped + " of " + attempts + " records dropped (ring full; the counters are exact): ";
        }

        private String ringAdvice() {
            return ring > ringSize ? "raise --ring-size to " + Units.size(ring) + " (" + ring / ringSize + "x), or " : "";
        }

        /**
         * For the daemon's log: {@code 1200 of 5000 records dropped (ring full; the counters are
         * exact): raise --ring-size to 32M (4x), or thin the noisiest kind: busprobe sample --kind
         * state --every 4}.
         */
        public String forDaemon() {
            String kind = noisiest.label();
            if (EventKind.named(kind).size() > 1) {
                kind = EventKind.KIND_PREFIX + kind; // the kind alone: its bare name means its family
            }
            return lost() + ringAdvice() + "thin the noisiest kind: busprobe sample --kind " + kind + " --every "
                    + every;
        }

        /** For {@code trace}, which has no sampling: the ring, or fewer families. */
        public String forTrace() {
            return lost() + ringAdvice() + "trace fewer families (--kinds); " + noisiest.label()
                    + " wrote the most";
        }
    }

    static long nextPowerOfTwo(long n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1) << 1;
    }
}
