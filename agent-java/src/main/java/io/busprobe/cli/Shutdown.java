package io.busprobe.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * SIGINT/SIGTERM handling for long-running commands. The JVM turns both into
 * shutdown hooks; the hook asks the command's loop to stop and waits for it
 * to drain the ring, print its summary and detach, so nothing is lost on
 * Ctrl-C or {@code systemctl stop}.
 */
final class Shutdown implements AutoCloseable {
    private static final long GRACE_SECONDS = 10;

    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;
    private volatile boolean requested;

    Shutdown() {
        hook = new Thread(() -> {
            requested = true;
            try {
                finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "busprobe-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    boolean requested() {
        return requested;
    }

    /** The command has finished cleaning up; let the JVM exit. */
    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException alreadyShuttingDown) {
            // the hook is running and now returns: exactly what we want
        }
    }
}
