package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;

/**
 * Reading a per-CPU array map: one lookup fills a buffer with one value per possible CPU, each in
 * a slot rounded up to 8 bytes ({@code bpf_map_lookup_elem} on {@code BPF_MAP_TYPE_PERCPU_ARRAY},
 * {@code round_up(value_size, 8)} in kernel/bpf/arraymap.c). The callers sum the values; nothing
 * is mirrored in Java.
 *
 * {@snippet :
 * long[] seen = new long[1];
 * PerCpu.forEachCpu(fd, "kind_stats", kind.id(), bp_kind_stats.layout(), v -> seen[0] += bp_kind_stats.seen(v));
 * }
 */
final class PerCpu {
    private PerCpu() {
    }

    /** Look up {@code key} once and hand each possible CPU's value, laid out as {@code layout}, to {@code value}. */
    static void forEachCpu(int fd, String map, int key, MemoryLayout layout, Consumer<MemorySegment> value) {
        int cpus = Libbpf.check(Native.libbpf_num_possible_cpus(), "libbpf_num_possible_cpus");
        long size = layout.byteSize();
        long stride = (size + 7) & ~7L;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment all = a.allocate(stride * cpus, 8);
            Libbpf.check(Native.bpf_map_lookup_elem(fd, a.allocateFrom(ValueLayout.JAVA_INT, key), all),
                    "bpf_map_lookup_elem(" + map + ")");
            for (int cpu = 0; cpu < cpus; cpu++) {
                value.accept(all.asSlice(cpu * stride, size));
            }
        }
    }
}
