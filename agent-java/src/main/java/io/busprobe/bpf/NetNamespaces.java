package io.busprobe.bpf;

import io.busprobe.bindings.Native;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.Sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Network namespaces of the host, and running a bpf call inside one of them.
 *
 * <p>BPF TCP iterators visit the sockets of the network namespace that was
 * current when the iterator was created; sockets of containers live in their
 * own namespaces. So the agent enters each namespace that has a process in
 * it, creates an iterator there and comes back. {@code setns(2)} only moves
 * the calling OS thread, so this runs on a short-lived thread of its own and
 * never on the ring consumer.
 */
final class NetNamespaces {
    private static final Path PROC = Path.of("/proc");

    private NetNamespaces() {
    }

    /** One process per network namespace, by namespace inode. */
    static Map<Long, Integer> scan() {
        Map<Long, Integer> out = new HashMap<>();
        try (DirectoryStream<Path> pids = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path p : pids) {
                try {
                    String link = Files.readSymbolicLink(p.resolve("ns/net")).toString(); // net:[4026531840]
                    long inode = Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
                    out.putIfAbsent(inode, Integer.parseInt(p.getFileName().toString()));
                } catch (IOException | RuntimeException gone) {
                    // the process exited while we looked, or is a kernel thread without ns links
                    continue;
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc", e);
        }
        return out;
    }

    /**
     * Run {@code call} (returning an fd or -errno) with the network namespace of
     * {@code pid} current, on a dedicated thread; -errno when the namespace cannot be entered.
     */
    static int inNamespaceOf(int pid, IntSupplier call) {
        int[] result = {-Errno.ESRCH};
        Thread t = Thread.ofPlatform().name("busprobe-netns").start(() -> {
            try (Arena a = Arena.ofConfined()) {
                int self = open(a, "/proc/thread-self/ns/net");
                int target = open(a, "/proc/" + pid + "/ns/net");
                if (self < 0 || target < 0) {
                    Sys.close(self);
                    Sys.close(target);
                    // gone (ESRCH), or another user's process without CAP_SYS_PTRACE (EACCES)
                    result[0] = java.nio.file.Files.exists(java.nio.file.Path.of("/proc/" + pid))
                            ? -Errno.EACCES : -Errno.ESRCH;
                    return;
                }
                try {
                    if (Native.setns(target, Native.CLONE_NEWNET()) != 0) {
                        result[0] = -Errno.EPERM;
                        return;
                    }
                    result[0] = call.getAsInt();
                } finally {
                    // this thread ends right after; going back is for the fds it leaves behind
                    Native.setns(self, Native.CLONE_NEWNET());
                    Sys.close(self);
                    Sys.close(target);
                }
            }
        });
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return result[0];
    }

    private static int open(Arena a, String path) {
        MemorySegment p = a.allocateFrom(path);
        return Native.open.makeInvoker().apply(p, Native.O_RDONLY() | Native.O_CLOEXEC());
    }
}
