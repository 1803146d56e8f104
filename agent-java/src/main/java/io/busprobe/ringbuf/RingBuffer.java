package io.busprobe.ringbuf;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.epoll_event;
import io.busprobe.ffi.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Zero-copy reader of a {@code BPF_MAP_TYPE_RINGBUF} map, mapped straight into
 * the JVM. No libbpf callback, no per-record allocation or upcall.
 *
 * <p>Memory layout of the map fd, as the kernel exposes it (kernel/bpf/ringbuf.c,
 * {@code ringbuf_map_mmap_kern}) and as libbpf's {@code ring_buffer__add} maps it:
 * <pre>
 *  fd offset 0          page_size          2*page_size            +size              +2*size
 *            | consumer |  producer page   |  data (size bytes)   |  data again       |
 *            |  page RW |  RO              |  RO                  |  RO, same pages   |
 * </pre>
 * The data pages are mapped twice back to back, so a record that wraps at the
 * end of the ring reads contiguously.
 *
 * <p>Threading: {@link #consume}, {@link #await} and {@link #gather} must be called
 * from one thread only (the consumer); {@link #pendingBytes} and the counters may be
 * read, and {@link #wakeup} called, from any thread. {@link #close} after the consumer stopped.
 *
 * {@snippet :
 * try (RingBuffer ring = RingBuffer.map(mapFd, ringSize)) {
 *     EventView ev = new EventView();
 *     while (running) {
 *         if (ring.consume((data, off, len) -> handle(ev.wrap(data, off))) == 0) {
 *             ring.await(250); // the kernel wakes a caught-up consumer on the next record
 *         }
 *     }
 * }
 * }
 */
public final class RingBuffer implements AutoCloseable {
    /** Records handed out per consume() pass before the consumer position is re-checked. */
    private static final int BATCH = 4096;

    /** Scope of the mapped segments: closed before munmap, so late readers fail safely. */
    private final Arena arena = Arena.ofShared();
    /** Scope of the errno state, used from the consumer thread and at close. */
    private final Arena callArena = Arena.ofShared();
    private final MemorySegment errnoState;
    private final MemorySegment consumerMap;
    private final MemorySegment producerMap;
    private final MemorySegment epollEvents;
    private final int epfd;
    /**
     * An eventfd in the same epoll set, for {@link #wakeup}: a consumer that waits long for the
     * kernel's wakeup (an idle daemon) is woken by another thread when it must stop.
     */
    private final int wakeFd;
    /** 8 bytes holding 1, and the errno state, of {@link #wakeup}; used under {@link #wakeLock}. */
    private final MemorySegment wakeOne;
    private final MemorySegment wakeErrno;
    /** Held by {@link #wakeup} while it writes to {@link #wakeFd}, and by {@link #close} to close it. */
    private final Object wakeLock = new Object();
    private final RingConsumer consumer;
    private volatile boolean closed;

    private RingBuffer(int mapFd, long size) {
        long page = Sys.pageSize();
        errnoState = Sys.newErrnoState(callArena);
        MemorySegment cons = null;
        MemorySegment prod = null;
        int ep = -1;
        int wake = -1;
        try {
            cons = Sys.mmap(errnoState, page, Native.PROT_READ() | Native.PROT_WRITE(), mapFd, 0, arena);
            prod = Sys.mmap(errnoState, page + 2 * size, Native.PROT_READ(), mapFd, page, arena);
            ep = Sys.epollCreate(errnoState);
            MemorySegment ev = epoll_event.allocate(callArena);
            // edge-triggered: a wait ends on the kernel's next wakeup, not because records are pending
            epoll_event.events(ev, Native.EPOLLIN() | Sys.EPOLLET);
            Sys.epollAdd(errnoState, ep, mapFd, ev);
            wake = Sys.eventfd(errnoState);
            // edge-triggered too: each write is one wakeup, and the counter is never read back
            // (it would take 2^64 - 1 of them to fill)
            MemorySegment wev = epoll_event.allocate(callArena);
            epoll_event.events(wev, Native.EPOLLIN() | Sys.EPOLLET);
            Sys.epollAdd(errnoState, ep, wake, wev);
        } catch (RuntimeException e) {
            Sys.close(wake);
            Sys.close(ep);
            long prodAddr = prod == null ? 0 : prod.address();
            long prodLen = prod == null ? 0 : prod.byteSize();
            long consAddr = cons == null ? 0 : cons.address();
            arena.close();
            if (prodAddr != 0) {
                Sys.munmap(errnoState, prodAddr, prodLen);
            }
            if (consAddr != 0) {
                Sys.munmap(errnoState, consAddr, page);
            }
            callArena.close();
            throw e;
        }
        consumerMap = cons;
        producerMap = prod;
        epfd = ep;
        wakeFd = wake;
        wakeOne = callArena.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
        wakeOne.set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 1L);
        wakeErrno = Sys.newErrnoState(callArena);
        epollEvents = epoll_event.allocateArray(4, callArena);
        consumer = new RingConsumer(cons, prod, prod.asSlice(page, 2 * size), size);
    }

    /**
     * Map the ring buffer behind {@code mapFd}.
     *
     * @param size the map's max_entries (its data size, a power of two multiple of the page size)
     */
    public static RingBuffer map(int mapFd, long size) {
        return new RingBuffer(mapFd, size);
    }

    /** Handle every committed record now; never blocks. Returns the number handled. */
    public int consume(RecordHandler handler) {
        int total = 0;
        int n;
        do {
            n = consumer.consume(handler, BATCH);
            total += n;
        } while (n == BATCH);
        return total;
    }

    /**
     * Wait up to {@code timeoutMs} for the kernel's next wakeup of this ring, or a {@link #wakeup},
     * consuming nothing. The epoll registration is edge-triggered, so records already pending do
     * not end the wait; a wakeup that came since the last wait does. Returns whether a wakeup ended it.
     */
    public boolean await(int timeoutMs) {
        return Sys.epollWait(errnoState, epfd, epollEvents, 4, timeoutMs) > 0;
    }

    /**
     * Let records gather for {@code timeoutMs}: the consumer's wait while records flow. A wakeup
     * ends it early only once {@code enoughBytes} are pending (the kernel's watermark wakeups).
     * The kernel also wakes a caught-up consumer on the first record after it drained the ring;
     * this wait sleeps through that one, so that a busy ring costs one drain per
     * {@code timeoutMs} however many records arrive.
     */
    public void gather(int timeoutMs, long enoughBytes) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (await(timeoutMs) && pendingBytes() < enoughBytes) {
            long left = deadline - System.nanoTime();
            if (left < 500_000L) {
                return; // epoll_wait counts in milliseconds: less than half of one left is time up
            }
            timeoutMs = (int) ((left + 999_999L) / 1_000_000L);
        }
    }

    /**
     * End the consumer's current or next {@link #await} or {@link #gather} now, from any thread;
     * after {@link #close}, nothing.
     */
    public void wakeup() {
        synchronized (wakeLock) {
            if (!closed) {
                Sys.eventfdSignal(wakeErrno, wakeFd, wakeOne);
            }
        }
    }

    /** Bytes committed or reserved by the kernel and not yet consumed. */
    public long pendingBytes() {
        if (closed) {
            return 0;
        }
        try {
            return consumer.pendingBytes();
        } catch (IllegalStateException closedMeanwhile) {
            return 0; // the ring was closed between the check and the read
        }
    }

    public long size() {
        return consumer.size();
    }

    /** Records handed to handlers since the ring was mapped. */
    public long recordsRead() {
        return consumer.consumed();
    }

    /** Records the kernel discarded (reserved, then bpf_ringbuf_discard). */
    public long recordsDiscarded() {
        return consumer.discarded();
    }

    @Override
    public void close() {
        synchronized (wakeLock) { // not while a wakeup() writes to wakeFd
            if (closed) {
                return;
            }
            closed = true;
        }
        Sys.close(epfd);
        Sys.close(wakeFd);
        long prodAddr = producerMap.address();
        long prodLen = producerMap.byteSize();
        long consAddr = consumerMap.address();
        long consLen = consumerMap.byteSize();
        // invalidate first: a metrics thread reading pendingBytes() now gets an exception, not SIGSEGV
        arena.close();
        Sys.munmap(errnoState, prodAddr, prodLen);
        Sys.munmap(errnoState, consAddr, consLen);
        callArena.close();
    }
}
