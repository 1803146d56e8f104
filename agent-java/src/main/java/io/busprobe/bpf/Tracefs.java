package io.busprobe.bpf;

import io.busprobe.ffi.Errno;
import io.busprobe.ffi.NativeException;
import io.busprobe.ffi.Sys;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * tracefs, which libbpf reads to attach classic tracepoints. Mounted at
 * /sys/kernel/tracing on first use when the system has not done it.
 */
final class Tracefs {
    private static final Path MOUNT = Path.of("/sys/kernel/tracing");
    private static final Path LEGACY = Path.of("/sys/kernel/debug/tracing");

    private static volatile String mountFailure;

    private Tracefs() {
    }

    /** Why tracefs is not there, when mounting it failed; null otherwise. */
    static String mountFailure() {
        return mountFailure;
    }

    /** Whether {@code relative} (e.g. events/syscalls/sys_exit_accept4) exists, mounting tracefs if needed. */
    static boolean exists(String relative) {
        if (Files.exists(MOUNT.resolve(relative)) || Files.exists(LEGACY.resolve(relative))) {
            return true;
        }
        if (!Files.exists(MOUNT.resolve("events")) && Files.isDirectory(MOUNT)) {
            try {
                Sys.mount("nodev", MOUNT.toString(), "tracefs");
            } catch (NativeException e) {
                mountFailure = "tracefs is not mounted at " + MOUNT + " and mounting it failed ("
                        + Errno.name(e.errno()) + "): mount -t tracefs nodev " + MOUNT;
                return false; // reported as a missing tracepoint, the rest runs
            }
        }
        return Files.exists(MOUNT.resolve(relative));
    }
}
