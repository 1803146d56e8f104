package io.busprobe.ffi;

/**
 * The host or the user cannot run busprobe as it is: not root and without the
 * capabilities, no kernel BTF, no libbpf or one too old, no bpffs. Restarting
 * will not help; the message names what to change. The CLI exits with
 * {@code 3} for it (see {@code BusprobeCommand}), so that systemd's
 * {@code RestartPreventExitStatus} can tell it from a transient failure.
 */
public final class HostProblem extends RuntimeException {
    public HostProblem(String message) {
        super(message);
    }

    public HostProblem(String message, Throwable cause) {
        super(message, cause);
    }
}
