package io.busprobe.ffi;

/**
 * A failed call at the native boundary: which operation, and the errno it
 * reported. The one exception type for libbpf, the bpf syscall, mmap and epoll.
 * libbpf's int functions return {@code -errno}; its pointer functions and libc
 * return NULL or -1 and set errno, which {@link Native} captures with
 * {@code Linker.Option.captureCallState("errno")}.
 *
 * {@snippet :
 * try { obj.load(); }
 * catch (NativeException e) { if (e.errno() == Errno.EPERM) ... }
 * }
 */
public class NativeException extends RuntimeException {
    private final String operation;
    private final int errno;

    public NativeException(String operation, int errno) {
        this(operation, errno, null);
    }

    public NativeException(String operation, int errno, String detail) {
        super(operation + ": " + Errno.name(errno) + (detail == null ? "" : " (" + detail + ")")
                + hint(errno));
        this.operation = operation;
        this.errno = Math.abs(errno);
    }

    public String operation() {
        return operation;
    }

    /** Positive errno value. */
    public int errno() {
        return errno;
    }

    private static String hint(int errno) {
        return switch (Math.abs(errno)) {
            case Errno.EPERM, Errno.EACCES ->
                    "; busprobe needs root (CAP_BPF and CAP_PERFMON): run it with sudo";
            case Errno.ENOMEM -> "; raise RLIMIT_MEMLOCK or shrink --ring-size";
            default -> "";
        };
    }
}
