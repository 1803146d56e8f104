package io.busprobe.cli;

import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGINT/SIGTERM handling for long-running commands. The signals only ask the
 * command's loop to stop; the loop then detaches, drains the ring, prints its
 * summary and returns, and the process exits 0: a stop asked for by the
 * operator or by {@code systemctl stop} is a success, not a crash. (The JVM's
 * own handlers would exit 130/143 from a shutdown hook racing the loop.)
 *
 * <p>A second signal while stopping means "now": the process halts at once with
 * 128 + the signal number. Links die with their file descriptors, so the kernel
 * is left clean either way; only the final summary is lost.
 */
final class Shutdown implements AutoCloseable {
    private static final Signal INT = new Signal("INT");
    private static final Signal TERM = new Signal("TERM");

    private final SignalHandler previousInt;
    private final SignalHandler previousTerm;
    private volatile boolean requested;
    private volatile Runnable onRequest = () -> { };

    Shutdown() {
        SignalHandler handler = this::onSignal;
        previousInt = Signal.handle(INT, handler);
        previousTerm = Signal.handle(TERM, handler);
    }

    private void onSignal(Signal sig) {
        if (requested) {
            System.err.println("busprobe: second SIG" + sig.getName() + " while stopping: exiting now");
            Runtime.getRuntime().halt(128 + sig.getNumber());
        }
        requested = true;
        onRequest.run();
    }

    /** Also run {@code r} on the first signal, after {@link #requested} turned true: it wakes a waiting loop. */
    void onRequest(Runnable r) {
        onRequest = r;
        if (requested) {
            r.run(); // a signal that came before
        }
    }

    boolean requested() {
        return requested;
    }

    /** The command has finished cleaning up: give the signals back to the JVM. */
    @Override
    public void close() {
        Signal.handle(INT, previousInt);
        Signal.handle(TERM, previousTerm);
    }
}
