package io.busprobe.ffi;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * signal(2) for the one case {@code sun.misc.Signal} cannot handle: a signal the process
 * inherited as ignored. HotSpot's {@code JVM_RegisterSignal} leaves an ignored SIGHUP, SIGINT or
 * SIGTERM ignored (that is how {@code nohup} keeps working), so a Java handler for it is
 * accepted and never runs. Uses libc only, not libbpf: it runs before anything else in main.
 *
 * {@snippet :
 * if (Signal.handle(HUP, h) == SignalHandler.SIG_IGN) {
 *     Signals.ignoredToNothing(Signals.SIGHUP);
 *     Signal.handle(HUP, h); // now installed
 * }
 * }
 */
public final class Signals {
    public static final int SIGHUP = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SIGNAL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("signal").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    /**
     * A handler that does nothing: getpid(2) is async-signal-safe, has no effect, and ignores
     * the signal number passed in a register (the SysV x86-64 and AAPCS64 calling conventions
     * let a callee ignore arguments; the handler's return value is discarded).
     */
    private static final MemorySegment NOTHING = LINKER.defaultLookup().find("getpid").orElseThrow();

    private Signals() {
    }

    /**
     * Replace an ignored signal's disposition with a handler that does nothing, in one step,
     * so that the JVM will then install a Java handler over it; the signal is never at its
     * default (for SIGHUP: terminate) in between.
     */
    public static void ignoredToNothing(int signo) {
        try {
            MemorySegment previous = (MemorySegment) SIGNAL.invokeExact(signo, NOTHING);
            if (previous.address() == -1L) { // SIG_ERR
                throw new IllegalStateException("signal(" + signo + ") failed");
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
