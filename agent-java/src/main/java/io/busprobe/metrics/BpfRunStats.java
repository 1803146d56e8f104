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
 * Turns the kernel's BPF run-time statistics on ({@code run_cnt} and
 * {@code run_time_ns} of every program; off by default because they cost two
 * clock reads per run) for as long as the agent runs, and restores the previous
 * setting on {@link #close}.
 *
 * <p>The switch is {@code kernel.bpf_stats_enabled}, so that an operator who
 * reads the sysctl sees what is going on; the old value is written back on close
 * (a SIGKILLed agent leaves it at 1). Where {@code /proc/sys} is read-only (an
 * unprivileged container), the fallback is {@code BPF_ENABLE_STATS}: the kernel
 * keeps statistics on while the returned fd is open. That path does not show in
 * the sysctl, which only reports its own writes ({@code bpf_stats_handler} in
 * kernel/bpf/syscall.c keeps a private {@code saved_val}); hence
 * {@link #enabled()} reports this object's state rather than reading the sysctl.
 */
final class BpfRunStats implements AutoCloseable {
    static final Path SYSCTL = Path.of("/proc/sys/kernel/bpf_stats_enabled");

    private final String restoreSysctl;
    private final int statsFd;
    private final boolean on;
    private boolean closed;

    private BpfRunStats(String restoreSysctl, int statsFd, boolean on) {
        this.restoreSysctl = restoreSysctl;
        this.statsFd = statsFd;
        this.on = on;
    }

    /** Enable; never fails the agent: if both ways are refused, it logs why and statistics stay at 0. */
    static BpfRunStats enable(PrintWriter log) {
        String sysctlError;
        try {
            String old = Files.readString(SYSCTL).trim();
            if (!old.equals("1")) {
                Files.writeString(SYSCTL, "1");
            }
            return new BpfRunStats(old, -1, true);
        } catch (IOException | UncheckedIOException e) {
            sysctlError = e.toString();
        }
        int fd = Native.bpf_enable_stats(Native.BPF_STATS_RUN_TIME());
        if (fd >= 0) {
            return new BpfRunStats(null, fd, true);
        }
        log.println("busprobe: BPF program run statistics stay off (" + SYSCTL + ": " + sysctlError
                + "; BPF_ENABLE_STATS: " + Errno.name(-fd) + "); busprobe_bpf_program_run* will not move");
        log.flush();
        return new BpfRunStats(null, -1, false);
    }

    /** Whether statistics are on: by our doing, or already by someone else's sysctl write. */
    boolean enabled() {
        return on && !closed;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (statsFd >= 0) {
            Sys.close(statsFd);
        } else if (restoreSysctl != null && !restoreSysctl.equals("1")) {
            try {
                Files.writeString(SYSCTL, restoreSysctl);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot restore " + SYSCTL + " to " + restoreSysctl, e);
            }
        }
    }
}
