package io.busprobe.testutil;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The kernel side of a BPF ring buffer on plain memory (kernel/bpf/ringbuf.c):
 * a consumer page, a producer page and a data area of {@code 2 * size} bytes
 * standing in for the double mapping. Every byte written to the data area goes
 * to both copies, so a record that wraps reads contiguously from the first.
 */
public final class UnitRing {
    public static final int BUSY_BIT = 1 << 31;
    public static final int DISCARD_BIT = 1 << 30;
    public static final int HDR_SZ = 8;
    public static final long PAGE = 4096;

    private final long size;
    private final long mask;
    public final MemorySegment consumerPage;
    public final MemorySegment producerPage;
    public final MemorySegment data;

    public UnitRing(Arena arena, long size) {
        this.size = size;
        this.mask = size - 1;
        this.consumerPage = arena.allocate(PAGE, PAGE);
        this.producerPage = arena.allocate(PAGE, PAGE);
        this.data = arena.allocate(2 * size, PAGE);
    }

    /** A reserved record: where its header is and how long its payload is. */
    public record Reservation(long pos, int len) {
        /** Offset of the payload in the (first copy of the) data area. */
        public long dataOffset(long mask) {
            return (pos & mask) + HDR_SZ;
        }
    }

    public long size() {
        return size;
    }

    public long mask() {
        return mask;
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

    public static long total(int len) {
        return (len + HDR_SZ + 7L) & ~7L;
    }

    /** bpf_ringbuf_reserve(): the header gets the busy bit; null when the ring has no room. */
    public Reservation reserve(int len) {
        long prod = producerPos();
        long total = total(len);
        if (prod + total - consumerPos() > size) {
            return null;
        }
        Reservation r = new Reservation(prod, len);
        writeHeader(r, len | BUSY_BIT);
        producerPage.set(ValueLayout.JAVA_LONG, 0, prod + total);
        return r;
    }

    /** Write payload bytes of a reserved record, through both copies of the mapping. */
    public void write(Reservation r, byte[] payload) {
        if (payload.length > r.len()) {
            throw new IllegalArgumentException("payload longer than the reservation");
        }
        for (int i = 0; i < payload.length; i++) {
            putByte(r.pos() + HDR_SZ + i, payload[i]);
        }
    }

    /** bpf_ringbuf_submit(): clear the busy bit. */
    public void commit(Reservation r) {
        writeHeader(r, r.len());
    }

    /** bpf_ringbuf_discard(): clear busy, set discard. */
    public void discard(Reservation r) {
        writeHeader(r, r.len() | DISCARD_BIT);
    }

    /** reserve + write + commit; fails when there is no room. */
    public Reservation output(byte[] payload) {
        Reservation r = reserve(payload.length);
        if (r == null) {
            throw new IllegalStateException("ring full");
        }
        write(r, payload);
        commit(r);
        return r;
    }

    private void writeHeader(Reservation r, int lenWord) {
        long at = r.pos() & mask;
        int pgOff = (int) ((at + 2 * PAGE) >> 12); // what the kernel stores: page offset of the record
        putInt(at, lenWord);
        putInt(at + 4, pgOff);
    }

    private void putInt(long at, int v) {
        // the header never wraps: records are 8-aligned and size a multiple of 8
        data.set(ValueLayout.JAVA_INT, at, v);
        data.set(ValueLayout.JAVA_INT, at + size, v);
    }

    private void putByte(long pos, byte b) {
        long at = pos & mask;
        data.set(ValueLayout.JAVA_BYTE, at, b);
        data.set(ValueLayout.JAVA_BYTE, at + size, b);
    }
}
