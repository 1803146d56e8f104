package io.busprobe.ringbuf;

import io.busprobe.bindings.Native;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The consumer side of a BPF ring buffer over three memory segments, with no
 * system calls: the raw layer under {@link RingBuffer}, and testable on plain
 * memory.
 *
 * <p>Protocol, as in kernel/bpf/ringbuf.c and libbpf's ringbuf.c:
 * <ul>
 * <li>{@code consumer_pos} (first word of the consumer page) is written only
 * by us, {@code producer_pos} (first word of the producer page) only by the
 * kernel; both are byte counters that never wrap in practice (u64).</li>
 * <li>Each record starts with an 8-byte header {@code {u32 len; u32 pg_off}}
 * at {@code pos & mask}. The kernel sets {@link #BUSY} in {@code len} at
 * reserve and clears it with a release store at submit or discard
 * (then setting {@link #DISCARD}); we must read the header with an acquire
 * load before reading the record.</li>
 * <li>A record occupies {@code round_up(len + 8, 8)} bytes.</li>
 * <li>We publish progress with a release store of {@code consumer_pos}: the
 * kernel reuses that space once it sees it.</li>
 * </ul>
 *
 * <p>Not thread-safe: exactly one thread consumes a ring.
 */
final class RingConsumer {
    static final int BUSY = Native.BPF_RINGBUF_BUSY_BIT();
    static final int DISCARD = Native.BPF_RINGBUF_DISCARD_BIT();
    static final int HEADER = Native.BPF_RINGBUF_HDR_SZ();

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private final MemorySegment consumerPage;
    private final MemorySegment producerPage;
    private final MemorySegment data;
    private final long mask;
    /**
     * Publish consumer_pos at least every quarter ring, so that a long batch
     * frees space for the producer before the batch ends.
     */
    private final long publishEvery;

    /** Volatile: the daemon's control thread reads it to tell a quiet ring (one write per drain). */
    private volatile long consumed;
    private long discarded;

    /**
     * @param consumerPage page whose first u64 is consumer_pos (read-write)
     * @param producerPage page whose first u64 is producer_pos
     * @param data         the data area mapped twice back to back: {@code 2 * size} bytes
     * @param size         ring size, a power of two
     */
    RingConsumer(MemorySegment consumerPage, MemorySegment producerPage, MemorySegment data, long size) {
        if (Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("ring size must be a power of two: " + size);
        }
        if (data.byteSize() < 2 * size) {
            throw new IllegalArgumentException("data area must be mapped twice: " + data.byteSize());
        }
        this.consumerPage = consumerPage;
        this.producerPage = producerPage;
        this.data = data;
        this.mask = size - 1;
        this.publishEvery = Math.max(size / 4, 4096);
    }

    long size() {
        return mask + 1;
    }

    /** Bytes written by the producer that we have not consumed yet. */
    long pendingBytes() {
        long prod = (long) LONG.getAcquire(producerPage, 0L);
        long cons = (long) LONG.getAcquire(consumerPage, 0L);
        return prod - cons;
    }

    /** Records handed to handlers so far. */
    long consumed() {
        return consumed;
    }

    /** Discarded records skipped so far. */
    long discarded() {
        return discarded;
    }

    /**
     * Hand every committed record to {@code handler}, in order, until the ring
     * is empty, a record is still busy, or {@code limit} records were handled.
     *
     * @return records handled
     */
    int consume(RecordHandler handler, int limit) {
        long cons = (long) LONG.getOpaque(consumerPage, 0L);
        long published = cons;
        int n = 0;
        long prod = (long) LONG.getAcquire(producerPage, 0L);
        try {
            while (n < limit) {
                if (cons >= prod) {
                    // publish first so that the producer never waits for us on a re-read
                    if (cons != published) {
                        LONG.setRelease(consumerPage, 0L, cons);
                        published = cons;
                    }
                    prod = (long) LONG.getAcquire(producerPage, 0L);
                    if (cons >= prod) {
                        break;
                    }
                }
                long at = cons & mask;
                int len = (int) INT.getAcquire(data, at);
                if ((len & BUSY) != 0) {
                    break; // reserved, not yet committed: records after it must wait too
                }
                cons += roundUp8((len & ~DISCARD) + HEADER);
                if ((len & DISCARD) == 0) {
                    n++;
                    handler.onRecord(data, at + HEADER, len);
                } else {
                    discarded++;
                }
                if (cons - published >= publishEvery) {
                    LONG.setRelease(consumerPage, 0L, cons);
                    published = cons;
                }
            }
        } finally {
            // a handler that throws must not see its records again: publish what was handed out
            if (cons != published) {
                LONG.setRelease(consumerPage, 0L, cons);
            }
            consumed += n;
        }
        return n;
    }

    private static long roundUp8(int v) {
        return (Integer.toUnsignedLong(v) + 7) & ~7L;
    }
}
