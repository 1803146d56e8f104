package io.busprobe.kernel;

import io.busprobe.ffi.Signals;
import io.busprobe.ffi.Sys;
import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 11, robustness: a SIGHUP while {@code busprobe run} starts is a reload once it is up,
 * never the JVM's default exit 129. The daemon is spawned as the launcher spawns it, with SIGHUP
 * ignored from its first instruction (bin/busprobe: {@code trap '' HUP} before exec), and is sent
 * SIGHUP over and over from the moment it exists until it logs that it started.
 */
@Privileged
class HangupAtStartTest {
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-hup-" + ProcessHandle.current().pid()));

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SIGNAL = LINKER.downcallHandle(
            LINKER.defaultLookup().find("signal").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MemorySegment SIG_IGN = MemorySegment.ofAddress(1);

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    @Test
    void sighupDuringStartUpIsAReloadAfterItNotAnExit() throws Throwable {
        BusprobeProcess.Daemon d;
        // what the launcher's trap does: the child inherits an ignored SIGHUP through exec.
        // This JVM ignores SIGHUP for the time of the spawn and then gets its handler back.
        MemorySegment ours = (MemorySegment) SIGNAL.invokeExact(Signals.SIGHUP, SIG_IGN);
        try {
            d = busprobe.startDaemon("run", "--metrics-address", "127.0.0.1:0", "--summary-interval=1h");
        } finally {
            MemorySegment restoredFromIgnored = (MemorySegment) SIGNAL.invokeExact(Signals.SIGHUP, ours);
        }
        try (d) {
            int pid = (int) d.pid();
            int sent = 0;
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!d.log().contains(" started, ") && d.process().isAlive() && System.nanoTime() < deadline) {
                try {
                    Sys.kill(pid, Signals.SIGHUP);
                    sent++;
                } catch (RuntimeException gone) {
                    break; // ESRCH: it exited; the assertion below says how
                }
                Thread.sleep(2);
            }
            System.out.println("HangupAtStartTest: " + sent + " SIGHUPs sent during start-up");
            assertThat(sent).as("SIGHUPs sent while it started").isPositive();
            assertThat(d.process().isAlive()).as("alive after %d SIGHUPs during start-up (exit %s); log: %s", sent,
                    d.process().isAlive() ? "-" : d.process().exitValue(), d.log()).isTrue();
            d.awaitStarted();
            // the deferred SIGHUP is applied as a reload, after the start-up lines
            long until = System.nanoTime() + 30_000_000_000L;
            while (!d.log().contains("endpoints reloaded") && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            String log = d.log();
            assertThat(log).as("a reload after start-up").contains("endpoints reloaded");
            assertThat(log.indexOf("endpoints reloaded")).as(log).isGreaterThan(log.indexOf(" started, "));
            assertThat(d.process().isAlive()).as(log).isTrue();
            assertThat(d.stop()).as("exit after SIGTERM; log: %s", d.log()).isZero();
        }
    }
}
