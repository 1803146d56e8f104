package io.busprobe.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The kernel side of a BPF ring buffer on plain memory (kernel/bpf/ringbuf.c),
 * laid out as {@code RingBuffer} maps a real one: a consumer page, a producer
 * page and a data area of {@code 2 * size} bytes standing in for the double
 * mapping. Every byte written to the data area goes to both copies, so a
 * record that wraps reads contiguously from the first.
 *
 * <p>Mirrors agent-java's test helper {@code UnitRing}; the benchmarks keep
 * their own copy so that nothing outside the tests depends on test code.
 * Memory comes from a shared arena, the scope kind of the agent's mmap'ed
 * segments, so the consumer pays the same liveness checks as on a real ring.
 */
public final class SyntheticRing implements AutoCloseable {
    /** {@code BPF_RINGBUF_BUSY_BIT}, {@code BPF_RINGBUF_DISCARD_BIT}, {@code BPF_RINGBUF_HDR_SZ} (uapi/linux/bpf.h). */
    public static final int BUSY_BIT = 1 << 31;
    public static final int DISCARD_BIT = 1 << 30;
    public static final int HDR_SZ = 8;
    public static final long PAGE = 4096;

    private final Arena arena = Arena.ofShared();
    private final long size;
    private final long mask;
    public final MemorySegment consumerPage;
    public final MemorySegment producerPage;
    public final MemorySegment data;

    public SyntheticRing(long size) {
        if (Long.bitCount(size) != 1 || size < PAGE) {
            throw new IllegalArgumentException("ring size must be a power of two >= a page: " + size);
        }
        this.size = size;
        this.mask = size - 1;
        this.consumerPage = arena.allocate(PAGE, PAGE);
        this.producerPage = arena.allocate(PAGE, PAGE);
        this.data = arena.allocate(2 * size, PAGE);
    }

    public long size() {
        return size;
    }

    public long producerPos() {
        return producerPage.get(ValueLayout.JAVA_LONG, 0);
    }

    public long consumerPos() {
        return consumerPage.get(ValueLayout.JAVA_LONG, 0);
    }

    /** Start both positions at {@code pos}, as if that many bytes had come and gone. */
    public void startAt(long pos) {
        producerPage.set(ValueLayout.JAVA_LONG, 0, pos);
        consumerPage.set(ValueLayout.JAVA_LONG, 0, pos);
    }

    /**
     * Move the consumer back to {@code pos} without touching the data: every
     * record from there to the producer position is committed and unread
     * again, which is how a benchmark refills the ring in one store.
     */
    public void rewindConsumer(long pos) {
        consumerPage.set(ValueLayout.JAVA_LONG, 0, pos);
    }

    /** Ring bytes a record with a {@code len}-byte payload occupies. */
    public static long total(int len) {
        return (len + HDR_SZ + 7L) & ~7L;
    }

    /** bpf_ringbuf_reserve(): the header gets the busy bit; -1 when the ring has no room. */
    public long reserve(int len) {
        long prod = producerPos();
        long total = total(len);
        if (prod + total - consumerPos() > size) {
            return -1;
        }
        writeHeader(prod, len | BUSY_BIT);
        producerPage.set(ValueLayout.JAVA_LONG, 0, prod + total);
        return prod;
    }

    /** Payload bytes of the record reserved at {@code pos}, through both copies of the mapping. */
    public void write(long pos, MemorySegment payload) {
        for (long i = 0; i < payload.byteSize(); i++) {
            long at = (pos + HDR_SZ + i) & mask;
            byte b = payload.get(ValueLayout.JAVA_BYTE, i);
            data.set(ValueLayout.JAVA_BYTE, at, b);
            data.set(ValueLayout.JAVA_BYTE, at + size, b);
        }
    }

    /** bpf_ringbuf_submit(): clear the busy bit. */
    public void commit(long pos, int len) {
        writeHeader(pos, len);
    }

    /** bpf_ringbuf_discard(): clear busy, set discard. */
    public void discard(long pos, int len) {
        writeHeader(pos, len | DISCARD_BIT);
    }

    private void writeHeader(long pos, int lenWord) {
        long at = pos & mask;
        int pgOff = (int) ((at + 2 * PAGE) >> 12); // what the kernel stores: page offset of the record
        // the header never wraps: records are 8-aligned and the size a multiple of 8
        for (long copy : new long[] {at, at + size}) {
            data.set(ValueLayout.JAVA_INT, copy, lenWord);
            data.set(ValueLayout.JAVA_INT, copy + 4, pgOff);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
