package io.busprobe.metrics;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bpf_prog_info;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A BPF program's run statistics from {@code struct bpf_prog_info}
 * ({@code BPF_OBJ_GET_INFO_BY_FD}; libbpf 1.1 has only the generic
 * {@code bpf_obj_get_info_by_fd}, the typed {@code bpf_prog_get_info_by_fd} came in 1.2). {@code runCount} and {@code runTimeNs} only
 * move while the kernel's BPF run-time statistics are on ({@link BpfRunStats});
 * {@code recursionMisses} counts runs the kernel skipped because the program
 * was already running on that CPU (field added in kernel 5.12).
 */
public record ProgramRunStats(long runCount, long runTimeNs, long recursionMisses) {
    /** The statistics of the program behind {@code progFd}, read now. */
    public static ProgramRunStats read(int progFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = bpf_prog_info.allocate(a);
            // the kernel fills at most *len bytes and zero-checks the rest: pass our struct's size
            MemorySegment len = a.allocateFrom(ValueLayout.JAVA_INT, (int) bpf_prog_info.layout().byteSize());
            Libbpf.check(Native.bpf_obj_get_info_by_fd(progFd, info, len), "bpf_obj_get_info_by_fd");
            return new ProgramRunStats(bpf_prog_info.run_cnt(info), bpf_prog_info.run_time_ns(info),
                    bpf_prog_info.recursion_misses(info));
        }
    }
}
