package io.busprobe.cli;

import io.busprobe.ffi.Signals;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * SIGHUP of {@code busprobe run}: a reload ({@code systemctl reload busprobe}), also when it
 * comes while the daemon is still starting. Until the daemon is up, a SIGHUP is only noted;
 * {@link #deliverTo} then applies it as one reload. Without this the JVM's own handler would
 * end the process with 129 ({@code java.lang.Terminator}), and systemd would restart it.
 *
 * <p>The JVM installs that handler before any Java code of ours runs. So the launcher starts
 * {@code run} with SIGHUP ignored (bin/busprobe), which the JVM leaves alone, and
 * {@link #deferDuringStartup}, the first thing main does, turns it into ours without passing
 * through the default; see {@link Signals#ignoredToNothing}.
 */
final class Hangups {
    private static final Signal HUP = new Signal("HUP");
    private static final AtomicBoolean PENDING = new AtomicBoolean();
    private static volatile Runnable reload;

    private Hangups() {
    }

    /** From here on a SIGHUP is a reload, deferred until {@link #deliverTo}. */
    static void deferDuringStartup() {
        SignalHandler handler = sig -> onHangup();
        if (Signal.handle(HUP, handler) == SignalHandler.SIG_IGN) {
            Signals.ignoredToNothing(Signals.SIGHUP);
            Signal.handle(HUP, handler);
        }
    }

    /** The daemon is up: apply a SIGHUP that came during start-up, and every later one, with {@code r}. */
    static void deliverTo(Runnable r) {
        reload = r;
        if (PENDING.getAndSet(false)) {
            r.run();
        }
    }

    private static void onHangup() {
        Runnable r = reload;
        if (r == null) {
            PENDING.set(true);
            r = reload; // deliverTo may have run between the read and the set
            if (r == null || !PENDING.getAndSet(false)) {
                return;
            }
        }
        r.run();
    }
}
