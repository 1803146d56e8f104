package io.busprobe.ffi;

import io.busprobe.bindings.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls behind the ring reader (mmap, epoll, eventfd), with errno captured.
 *
 * <p>jextract's generated downcalls do not capture errno, and by the time a
 * Java caller could read it the JVM may have overwritten it. The handles here
 * reuse jextract's addresses and descriptors and add
 * {@code Linker.Option.captureCallState("errno")}; each call takes a state
 * segment from {@link #newErrnoState(Arena)} as first argument. Handles are
 * {@code static final} so that the JIT can inline them.
 */
public final class Sys {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(PathElement.groupElement("errno"));

    private static final MethodHandle MMAP = withErrno(Native.mmap$address(), Native.mmap$descriptor());
    private static final MethodHandle MUNMAP = withErrno(Native.munmap$address(), Native.munmap$descriptor());
    private static final MethodHandle EPOLL_CREATE1 =
            withErrno(Native.epoll_create1$address(), Native.epoll_create1$descriptor());
    private static final MethodHandle EPOLL_CTL = withErrno(Native.epoll_ctl$address(), Native.epoll_ctl$descriptor());
    private static final MethodHandle EPOLL_WAIT =
            withErrno(Native.epoll_wait$address(), Native.epoll_wait$descriptor());

    private static final MethodHandle MOUNT = withErrno(Native.mount$address(), Native.mount$descriptor());
    private static final MethodHandle KILL = withErrno(Native.kill$address(), Native.kill$descriptor());
    /** ioctl(2) with one pointer argument; variadic in libc, and jextract's headers do not declare it. */
    private static final MethodHandle IOCTL_PTR = LINKER.downcallHandle(
            LINKER.defaultLookup().find("ioctl").orElseThrow(),
            java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG,
                    java.lang.foreign.ValueLayout.ADDRESS),
            Linker.Option.firstVariadicArg(2));
    /** eventfd(2) and write(2), for the ring reader's wakeup; jextract's headers do not declare them. */
    private static final MethodHandle EVENTFD = LINKER.downcallHandle(LINKER.defaultLookup().find("eventfd").orElseThrow(),
            FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_INT), Linker.Option.captureCallState("errno"));
    private static final MethodHandle WRITE = LINKER.downcallHandle(LINKER.defaultLookup().find("write").orElseThrow(),
            FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_LONG, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG),
            Linker.Option.captureCallState("errno"));
    /** EFD_NONBLOCK of sys/eventfd.h: O_NONBLOCK, 04000 in asm-generic/fcntl.h (x86 and arm64 alike). */
    private static final int EFD_NONBLOCK = 04000;
    /** TIOCGWINSZ of asm-generic/ioctls.h (x86 and arm64 alike). */
    private static final long TIOCGWINSZ = 0x5413;

    /** mmap's MAP_FAILED, ((void *) -1). */
    private static final long MAP_FAILED = -1L;

    private Sys() {
    }

    static MethodHandle withErrno(MemorySegment address, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(address, descriptor, Linker.Option.captureCallState("errno"));
    }

    /** A segment to receive errno; allocate once per thread that makes calls. */
    public static MemorySegment newErrnoState(Arena arena) {
        return arena.allocate(STATE);
    }

    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /**
     * mmap(2) a file-descriptor range; the returned segment has {@code length}
     * bytes and is valid only while {@code scope} is open, so that closing the
     * scope before munmap turns a late access from another thread into an
     * exception instead of a crash.
     */
    public static MemorySegment mmap(MemorySegment state, long length, int prot, int fd, long offset, Arena scope) {
        MemorySegment p;
        try {
            p = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, prot, Native.MAP_SHARED(), fd,
                    offset);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (p.address() == MAP_FAILED) {
            throw new NativeException("mmap", errno(state));
        }
        return p.reinterpret(length, scope, null);
    }

    /** munmap(2) by raw address, for mappings whose segments were already invalidated. */
    public static void munmap(MemorySegment state, long address, long length) {
        int rc;
        try {
            rc = (int) MUNMAP.invokeExact(state, MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (rc != 0) {
            throw new NativeException("munmap", errno(state));
        }
    }

    public static int epollCreate(MemorySegment state) {
        int fd;
        try {
            fd = (int) EPOLL_CREATE1.invokeExact(state, Native.EPOLL_CLOEXEC());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (fd < 0) {
            throw new NativeException("epoll_create1", errno(state));
        }
        return fd;
    }

    public static void epollAdd(MemorySegment state, int epfd, int fd, MemorySegment event) {
        int rc;
        try {
            rc = (int) EPOLL_CTL.invokeExact(state, epfd, Native.EPOLL_CTL_ADD(), fd, event);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (rc != 0) {
            throw new NativeException("epoll_ctl", errno(state));
        }
    }

    /** eventfd(2) with a zero counter, close-on-exec and non-blocking. */
    public static int eventfd(MemorySegment state) {
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(state, 0, Native.O_CLOEXEC() | EFD_NONBLOCK);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (fd < 0) {
            throw new NativeException("eventfd", errno(state));
        }
        return fd;
    }

    /**
     * Add {@code one} (8 bytes holding 1) to an eventfd's counter: its readers and epoll waiters
     * wake. EAGAIN (the counter at its maximum, so it is readable already) is not an error.
     */
    public static void eventfdSignal(MemorySegment state, int fd, MemorySegment one) {
        long n;
        try {
            n = (long) WRITE.invokeExact(state, fd, one, 8L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (n != 8 && errno(state) != Errno.EAGAIN) {
            throw new NativeException("write(eventfd)", errno(state));
        }
    }

    /** EPOLLET of sys/epoll.h ({@code 1u << 31}), edge-triggered readiness; not among the generated constants. */
    public static final int EPOLLET = 1 << 31;

    /** epoll_wait(2); an interrupted wait (EINTR) counts as a timeout. */
    public static int epollWait(MemorySegment state, int epfd, MemorySegment events, int max, int timeoutMs) {
        int n;
        try {
            n = (int) EPOLL_WAIT.invokeExact(state, epfd, events, max, timeoutMs);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (n < 0) {
            int e = errno(state);
            if (e == Errno.EINTR) {
                return 0;
            }
            throw new NativeException("epoll_wait", e);
        }
        return n;
    }

    /** mount(2) a pseudo filesystem without options, e.g. {@code mount("bpf", "/sys/fs/bpf", "bpf")}. */
    public static void mount(String source, String target, String type) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = newErrnoState(a);
            int rc = (int) MOUNT.invokeExact(state, a.allocateFrom(source), a.allocateFrom(target),
                    a.allocateFrom(type), 0L, MemorySegment.NULL);
            if (rc != 0) {
                throw new NativeException("mount -t " + type + " " + source + " " + target, errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** kill(2); a NativeException names ESRCH (no such process) or EPERM. */
    public static void kill(int pid, int signal) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = newErrnoState(a);
            int rc = (int) KILL.invokeExact(state, pid, signal);
            if (rc != 0) {
                throw new NativeException("kill(" + pid + ", " + signal + ")", errno(state));
            }
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * The width in columns of the terminal on {@code fd} (struct winsize's ws_col), or -1 when
     * {@code fd} is not a terminal: the same test as isatty(3), which is what it is used for.
     */
    public static int terminalColumns(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment winsize = a.allocate(8, 2); // ws_row, ws_col, ws_xpixel, ws_ypixel: unsigned short
            int rc = (int) IOCTL_PTR.invokeExact(fd, TIOCGWINSZ, winsize);
            if (rc != 0) {
                return -1;
            }
            return Short.toUnsignedInt(winsize.get(java.lang.foreign.ValueLayout.JAVA_SHORT, 2));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void close(int fd) {
        if (fd >= 0) {
            Native.close(fd);
        }
    }

    public static long pageSize() {
        return Native.getpagesize();
    }
}
