package io.busprobe.ffi;

/**
 * The running kernel lacks something busprobe needs (a tracepoint, BTF, a
 * map type). Distinct from other failures so that callers can disable one
 * probe family and tests can skip with the reason, while every other
 * {@link NativeException} is a real error.
 */
public final class NotSupportedException extends NativeException {
    public NotSupportedException(String operation, int errno, String what) {
        super(operation, errno, what + " not supported by this kernel");
    }
}
