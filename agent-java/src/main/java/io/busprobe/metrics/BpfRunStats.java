package io.busprobe.metrics;

import io.busprobe.bindings.Native;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.Sys;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Holds the kernel's BPF run-time statistics on ({@code run_cnt} and
 * {@code run_time_ns} of every program; off by default because they cost two
 * clock reads per run) for as long as the agent runs.
 *
 * <p>The switch is {@code BPF_ENABLE_STATS} ({@code bpf_enable_stats(BPF_STATS_RUN_TIME)}):
 * the kernel keeps statistics on while the returned fd is open, and closes it with
 * the process, so that nothing outlives the agent, a {@code kill -9} included. The
 * sysctl {@code kernel.bpf_stats_enabled} is never written: issue 11 found a SIGKILLed
 * agent leaving it at 1 and the next one taking that 1 for the operator's value to
 * restore. The sysctl only reports its own writes ({@code bpf_stats_handler} in
 * kernel/bpf/syscall.c keeps a private {@code saved_val}), so it reads 0 while this
 * holds statistics on, and {@link #enabled()} reports this object's state.
 */
final class BpfRunStats implements AutoCloseable {
    /** The operator's switch, read (never written) only to say in the log that statistics are on anyway. */
    static final Path SYSCTL = Path.of("/proc/sys/kernel/bpf_stats_enabled");

    private final int statsFd;
    private boolean closed;

    private BpfRunStats(int statsFd) {
        this.statsFd = statsFd;
    }

    /** Enable; never fails the agent: if the kernel refuses (no CAP_SYS_ADMIN), it logs why and statistics stay at 0. */
    static BpfRunStats enable(PrintWriter log) {
        int fd = Native.bpf_enable_stats(Native.BPF_STATS_RUN_TIME());
        if (fd < 0) {
            log.println("busprobe: BPF program run statistics stay off (BPF_ENABLE_STATS: " + Errno.name(-fd)
                    + (sysctlOn() ? "; " + SYSCTL + " is 1, so they move anyway" : "; needs CAP_SYS_ADMIN")
                    + "); busprobe_bpf_program_run* will not move");
            log.flush();
        }
        return new BpfRunStats(fd);
    }

    private static boolean sysctlOn() {
        try {
            return Files.readString(SYSCTL).trim().equals("1");
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** Whether this agent holds statistics on. */
    boolean enabled() {
        return statsFd >= 0 && !closed;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (statsFd >= 0) {
            Sys.close(statsFd);
        }
    }
}
