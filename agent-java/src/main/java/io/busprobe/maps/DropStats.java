package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.endpoint.Direction;
import io.busprobe.ffi.Sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The exact drop counters of {@code drop_stats} (bpf/drop.bpf.c), read straight from the map's
 * pages: the map is {@code BPF_F_MMAPABLE}, so a read is a plain load, no syscall, whatever the
 * number of cells. One {@code __u64} per cell, at
 * {@code (endpoint * BP_DIRS + direction) * BP_DROP_REASON_SLOTS + slot} (see
 * {@code BP_DROP_STATS_ENTRIES} in bpf/events.h); the kernel adds to them atomically, and an
 * aligned 8-byte load never sees half an update.
 *
 * <p>Safe to read from any thread until {@link #close}; a read after close throws instead of
 * touching unmapped memory.
 *
 * {@snippet :
 * try (DropStats drops = DropStats.openPinned(Path.of("/sys/fs/bpf/busprobe"))) {
 *     for (DropStats.Cell c : drops.nonZero()) System.out.println(c);
 * }
 * }
 */
public final class DropStats implements AutoCloseable {
    /** The map's name in bpf/drop.bpf.c, and its pin's. */
    public static final String MAP = "drop_stats";
    /** Reason slots per endpoint and direction ({@code BP_DROP_REASON_SLOTS}). */
    public static final int SLOTS = Native.BP_DROP_REASON_SLOTS();
    /** The slot of every reason from {@code BP_DROP_REASON_OTHER} up (subsystem reasons, future ones). */
    public static final int OTHER_SLOT = Native.BP_DROP_REASON_OTHER();
    private static final int ENTRIES = Native.BP_DROP_STATS_ENTRIES();

    /** One non-zero counter: drops of one reason slot on one endpoint and direction. */
    public record Cell(int endpoint, Direction direction, int slot, long count) {
    }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment state;
    private final MemorySegment counters;
    private final long address;
    private final long length;

    private DropStats(int fd) {
        long page = Sys.pageSize();
        length = ((ENTRIES * 8L) + page - 1) / page * page;
        state = Sys.newErrnoState(arena);
        try {
            counters = Sys.mmap(state, length, Native.PROT_READ(), fd, 0, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        address = counters.address();
    }

    /** Map the counters of the map behind {@code fd}; the mapping keeps the map alive, the fd stays the caller's. */
    public static DropStats map(int fd) {
        return new DropStats(fd);
    }

    /** Map the counters a running daemon pinned under {@code dir}. */
    public static DropStats openPinned(Path dir) {
        int fd = Pins.open(dir, new String[] {MAP})[0];
        try {
            return new DropStats(fd);
        } finally {
            Sys.close(fd);
        }
    }

    /** Drops counted for one endpoint, direction and reason slot. */
    public long count(int endpoint, Direction direction, int slot) {
        return counters.getAtIndex(ValueLayout.JAVA_LONG, index(endpoint, direction.id(), slot));
    }

    /** Every cell the kernel has counted in, endpoint by endpoint: at most a few dozen on a real host. */
    public List<Cell> nonZero() {
        List<Cell> out = new ArrayList<>();
        for (int i = 0; i < ENTRIES; i++) {
            long n = counters.getAtIndex(ValueLayout.JAVA_LONG, i);
            if (n != 0) {
                int row = i / SLOTS;
                out.add(new Cell(row / EndpointMaps.DIRS, Direction.ofId(row % EndpointMaps.DIRS), i % SLOTS, n));
            }
        }
        return out;
    }

    private static long index(int endpoint, int direction, int slot) {
        return ((long) endpoint * EndpointMaps.DIRS + direction) * SLOTS + slot;
    }

    /** Unmap; later reads throw. */
    @Override
    public void close() {
        if (!arena.scope().isAlive()) {
            return;
        }
        arena.close();
        try (Arena a = Arena.ofConfined()) {
            Sys.munmap(Sys.newErrnoState(a), address, length);
        }
    }
}
