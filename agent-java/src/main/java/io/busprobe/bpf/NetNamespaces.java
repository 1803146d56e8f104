package io.busprobe.bpf;

import io.busprobe.bindings.Native;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.Sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Network namespaces of the host, and running a bpf call inside one of them.
 *
 * <p>BPF TCP iterators visit the sockets of the network namespace that was
 * current when the iterator was created; sockets of containers live in their
 * own namespaces. So the agent enters each namespace that has a process in
 * it, creates an iterator there and comes back. {@code setns(2)} only moves
 * the calling OS thread, so this runs on one long-lived worker thread of its own
 * ({@code busprobe-netns}) and never on the ring consumer or the caller.
 *
 * <p>Entering takes two privileges, and the kernel refuses each its own way:
 * <ul>
 *   <li>opening (and reading the link) {@code /proc/PID/ns/net} is a ptrace access check
 *   ({@code PTRACE_MODE_READ_FSCREDS}, {@code proc_ns_get_link()} in fs/proc/namespaces.c): a root
 *   process whose capabilities are not a subset of ours, or another user's, needs
 *   CAP_SYS_PTRACE, else EACCES;</li>
 *   <li>{@code setns(2)} into it needs CAP_SYS_ADMIN ({@code netns_install()}), else EPERM.</li>
 * </ul>
 * A namespace must be counted even when its link cannot be read, so namespaces are told apart
 * by what needs no ptrace check: the inode of {@code /proc/PID/net/dev}, a proc entry that each
 * network namespace registers for itself ({@code dev_proc_net_init()}) and that any process may
 * stat.
 */
final class NetNamespaces {
    private static final Path PROC = Path.of("/proc");

    /** The capability whose absence an errno from {@link #inNamespaceOf} or the scan means. */
    static String missingCapability(int errno) {
        return switch (Math.abs(errno)) {
            case Errno.EACCES -> "CAP_SYS_PTRACE";
            case Errno.EPERM -> "CAP_SYS_ADMIN";
            default -> null;
        };
    }

    /**
     * A network namespace with at least one process in it.
     *
     * @param key   the inode of {@code /proc/PID/net/dev}: names the namespace while it lives
     * @param pid   a process to enter it through (one whose link could be read, when there is one)
     * @param errno 0 when {@code pid}'s {@code ns/net} link could be read, else why not (EACCES)
     * @param self  the agent's own namespace: iterated in place, no setns (and no CAP_SYS_ADMIN)
     */
    record Namespace(long key, int pid, int errno, boolean self) {
    }

    private NetNamespaces() {
    }

    /** Every network namespace with a process in it, the agent's own first. */
    static List<Namespace> scan() {
        int self = (int) ProcessHandle.current().pid();
        Map<Long, Namespace> out = new LinkedHashMap<>();
        long selfKey = key(PROC.resolve("self"));
        if (selfKey != 0) {
            out.put(selfKey, new Namespace(selfKey, self, 0, true));
        }
        try (DirectoryStream<Path> pids = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path p : pids) {
                long key = key(p);
                if (key == 0) {
                    continue; // exited while we looked, or a zombie: it holds no namespace
                }
                Namespace have = out.get(key);
                if (have != null && have.errno() == 0) {
                    continue; // this namespace can already be entered
                }
                int pid = Integer.parseInt(p.getFileName().toString());
                int errno = readable(p);
                if (errno == Errno.ESRCH) {
                    continue;
                }
                if (have == null || errno == 0) {
                    out.put(key, new Namespace(key, pid, errno, false));
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc", e);
        }
        return new ArrayList<>(out.values());
    }

    /**
     * The PID the kernel handed out last in our PID namespace, to a process or a thread (the fifth
     * field of {@code /proc/loadavg}, {@code idr_get_cursor() - 1} in fs/proc/loadavg.c); -1 when it
     * cannot be read. While it stays put, no task was created anywhere below that namespace (the
     * daemon runs in the host's, {@code hostPID: true} in Kubernetes), so no new network namespace
     * can have come with one: a rescan of /proc would find what the last one found.
     */
    static long lastPid() {
        try {
            String[] f = Files.readString(PROC.resolve("loadavg")).trim().split(" ");
            return Long.parseLong(f[f.length - 1]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The namespace key of process directory {@code p}, 0 when it has none (gone, zombie). */
    private static long key(Path p) {
        try {
            return (Long) Files.getAttribute(p.resolve("net/dev"), "unix:ino");
        } catch (IOException | RuntimeException gone) {
            return 0;
        }
    }

    /** 0 when the ptrace check lets us read {@code p/ns/net}, EACCES when it does not, ESRCH when gone. */
    private static int readable(Path p) {
        try {
            Files.readSymbolicLink(p.resolve("ns/net"));
            return 0;
        } catch (AccessDeniedException denied) {
            return Errno.EACCES;
        } catch (IOException | RuntimeException gone) {
            return Errno.ESRCH;
        }
    }

    /**
     * Whether the network namespace of {@code pid} may hold a TCP socket the refresh must visit:
     * false only when its {@code /proc/PID/net/sockstat} and {@code sockstat6} both say
     * {@code inuse 0} for TCP. The kernel counts a socket there while it is hashed, listening,
     * connecting or established ({@code sock_prot_inuse_add()} from {@code inet_hash()} and
     * {@code inet_ehash_nolisten()}), per namespace; time-wait sockets are not, and a closed
     * socket's bytes were counted at its close. Reading it costs a few microseconds; the iterator
     * walks every bucket of the host's established hash table (shared by every namespace) for
     * each namespace it is created in, about a millisecond with 262,144 buckets. When the files
     * cannot be read, true: the refresh looks.
     */
    static boolean mayHaveTcpSockets(int pid) {
        return tcpInUse(Path.of("/proc/" + pid + "/net/sockstat"), "TCP: inuse ")
                || tcpInUse(Path.of("/proc/" + pid + "/net/sockstat6"), "TCP6: inuse ");
    }

    private static boolean tcpInUse(Path sockstat, String prefix) {
        try {
            for (String line : Files.readAllLines(sockstat)) {
                if (line.startsWith(prefix)) {
                    int end = line.indexOf(' ', prefix.length());
                    return Long.parseLong(line.substring(prefix.length(), end < 0 ? line.length() : end)) != 0;
                }
            }
            return true;
        } catch (IOException | RuntimeException unreadable) {
            return true;
        }
    }

    /**
     * A fingerprint of the TCP segments that the network namespace of {@code pid} has moved:
     * {@code InSegs + OutSegs + RetransSegs} of its TCP MIB ({@code /proc/PID/net/snmp}, one MIB
     * for IPv4 and IPv6), or -1 when it cannot be read. Every change of a socket's
     * {@code bytes_sent}, {@code bytes_received}, {@code segs_out} or {@code segs_in} moves one
     * of the three in the same namespace, so when the fingerprint read before a refresh equals
     * the one read before the last refresh, no socket there has anything new to count and the
     * walk is skipped. Read before the walk, so a segment that arrives during the walk changes
     * the next fingerprint. A few microseconds, against a walk of the whole established hash.
     */
    static long tcpActivity(int pid) {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/" + pid + "/net/snmp"));
            for (int i = 0; i + 1 < lines.size(); i++) {
                if (lines.get(i).startsWith("Tcp: ") && lines.get(i + 1).startsWith("Tcp: ")) {
                    String[] names = lines.get(i).split(" ");
                    String[] values = lines.get(i + 1).split(" ");
                    long sum = 0;
                    for (int f = 1; f < names.length && f < values.length; f++) {
                        switch (names[f]) {
                            case "InSegs", "OutSegs", "RetransSegs" -> sum += Long.parseLong(values[f]);
                            default -> { }
                        }
                    }
                    return sum & Long.MAX_VALUE;
                }
            }
            return -1;
        } catch (IOException | RuntimeException unreadable) {
            return -1;
        }
    }

    /**
     * Run {@code call} (returning an fd or -errno) with the network namespace of
     * {@code pid} current, on the namespace worker thread; -errno when the namespace cannot be
     * entered: -EACCES when {@code /proc/PID/ns/net} cannot be opened (no CAP_SYS_PTRACE), -EPERM
     * when setns refuses (no CAP_SYS_ADMIN), -ESRCH when the process is gone.
     */
    static int inNamespaceOf(int pid, IntSupplier call) {
        return Worker.run(pid, call);
    }

    /**
     * The one thread that enters other network namespaces, kept for the life of the process: the
     * refresh enters every foreign namespace every second, and starting a platform thread for each
     * cost more than the refresh itself on an idle host. Between calls it blocks on a queue, so it
     * costs nothing while nobody asks. After each call it setns()es back into the namespace it was
     * started in (the agent's); should that ever fail, the thread ends and the next call starts a
     * new one, so no later call and no fd it creates can run in a namespace left behind.
     */
    private static final class Worker {
        private static final class Job {
            final int pid;
            final IntSupplier call;
            int result = -Errno.ESRCH;
            RuntimeException failure;
            /** The worker could not come back to its own namespace and is ending. */
            boolean stranded;
            final java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);

            Job(int pid, IntSupplier call) {
                this.pid = pid;
                this.call = call;
            }
        }

        private static final java.util.concurrent.SynchronousQueue<Job> JOBS = new java.util.concurrent.SynchronousQueue<>();
        /** The live worker, or null; guarded by the class lock, which also makes one call at a time. */
        private static Thread thread;

        static synchronized int run(int pid, IntSupplier call) {
            if (thread == null || !thread.isAlive()) {
                thread = Thread.ofPlatform().name("busprobe-netns").daemon().start(Worker::loop);
            }
            Job job = new Job(pid, call);
            boolean interrupted = false;
            // uninterruptibly: once handed over, the call runs to its end, and its fd must not be lost
            while (true) {
                try {
                    JOBS.put(job);
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            while (true) {
                try {
                    job.done.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (job.stranded) {
                thread = null; // it is ending; the next call must not hand it a job
            }
            if (job.failure != null) {
                throw job.failure;
            }
            return job.result;
        }

        private static void loop() {
            int self;
            try (Arena a = Arena.ofConfined()) {
                self = open(a, "/proc/thread-self/ns/net"); // the namespace to come back to
            }
            try {
                while (true) {
                    Job job = JOBS.take();
                    boolean back = false;
                    try {
                        back = enterAndCall(self, job);
                    } finally {
                        job.stranded = !back;
                        job.done.countDown();
                    }
                    if (!back) {
                        return; // stranded in another namespace: end, the next call starts a fresh thread
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                Sys.close(self);
            }
        }

        /** Runs one job; returns whether this thread is back in its own namespace afterwards. */
        private static boolean enterAndCall(int self, Job job) {
            try (Arena a = Arena.ofConfined()) {
                int target = open(a, "/proc/" + job.pid + "/ns/net");
                if (self < 0 || target < 0) {
                    Sys.close(target);
                    // gone (ESRCH), or refused by the ptrace access check (EACCES)
                    job.result = Files.exists(Path.of("/proc/" + job.pid)) ? -Errno.EACCES : -Errno.ESRCH;
                    return true;
                }
                try {
                    if (Native.setns(target, Native.CLONE_NEWNET()) != 0) {
                        job.result = -Errno.EPERM;
                        return true; // setns changes nothing when it fails
                    }
                    try {
                        job.result = job.call.getAsInt();
                    } catch (RuntimeException e) {
                        job.failure = e; // rethrown on the caller's thread
                    }
                    return Native.setns(self, Native.CLONE_NEWNET()) == 0;
                } finally {
                    Sys.close(target);
                }
            }
        }
    }

    private static int open(Arena a, String path) {
        MemorySegment p = a.allocateFrom(path);
        return Native.open.makeInvoker().apply(p, Native.O_RDONLY() | Native.O_CLOEXEC());
    }
}
