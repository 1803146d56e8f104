package io.busprobe.maps;

import java.lang.foreign.ValueLayout;

/**
 * The socket table (bpf/sock_info.bpf.h): {@code sock_slots}, a direct-mapped array of slots where
 * a socket's entry normally lives, and {@code sock_info}, an LRU hash for the sockets whose slot
 * another socket holds. Its size, set before load from {@code run --socket-table-size} (the LRU
 * map's entries; the array's slots are that rounded down to a power of two), and the evictions of
 * established connections the kernel saw ({@code sock_evictions}, a per-CPU {@code __u64}),
 * summed over CPUs.
 *
 * {@snippet :
 * long evicted = SocketTable.evictions(fd); // fd of the sock_evictions map, loaded or pinned
 * }
 */
public final class SocketTable {
    /** The LRU map's name in bpf/sock_info.bpf.h. */
    public static final String MAP = "sock_info";
    /** The slot array's name in bpf/sock_info.bpf.h. */
    public static final String SLOTS = "sock_slots";
    /** The eviction counter's name in bpf/sock_info.bpf.h; also its pin file name. */
    public static final String EVICTIONS = "sock_evictions";
    /** Smallest and largest {@code --socket-table-size}, and the default (the map's size in the object). */
    public static final int MIN_SIZE = 64;
    public static final int MAX_SIZE = 16 << 20;
    public static final int DEFAULT_SIZE = 65536;

    private SocketTable() {
    }

    /**
     * Slots of {@code sock_slots} for a table of {@code size}: a power of two, which the BPF side's
     * hash masks to (the array's {@code index_mask}).
     */
    public static int slots(int size) {
        return Integer.highestOneBit(size);
    }

    /**
     * Evictions counted by the daemon that pinned its maps under {@code dir}; empty when it pinned no
     * counter (a daemon of an earlier busprobe).
     */
    public static java.util.OptionalLong pinnedEvictions(java.nio.file.Path dir) {
        java.nio.file.Path pin = dir.resolve(EVICTIONS);
        if (!java.nio.file.Files.exists(pin)) {
            return java.util.OptionalLong.empty();
        }
        int fd = Pins.objGet(pin);
        try {
            return java.util.OptionalLong.of(evictions(fd));
        } finally {
            Pins.close(fd);
        }
    }

    /** Evictions counted so far, over every CPU. */
    public static long evictions(int fd) {
        long[] n = new long[1];
        PerCpu.forEachCpu(fd, EVICTIONS, 0, ValueLayout.JAVA_LONG, v -> n[0] += v.get(ValueLayout.JAVA_LONG, 0));
        return n[0];
    }
}
