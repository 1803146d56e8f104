package io.busprobe.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs helper commands for kernel tests, always bounded in time. */
public final class Sh {
    /**
     * Threads that block reading child output. Not the common ForkJoinPool: on a 2-core machine it has one
     * worker, and one blocked reader elsewhere in a test would leave these reads queued forever.
     */
    public static final java.util.concurrent.Executor READERS =
            java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    private Sh() {
    }

    /** Run to completion within {@code timeoutSeconds}; fails on a non-zero exit. Returns stdout. */
    public static String run(long timeoutSeconds, String... cmd) {
        Result r = exec(timeoutSeconds, cmd);
        if (r.exit != 0) {
            throw new AssertionError(String.join(" ", cmd) + " exited " + r.exit + ": " + r.err);
        }
        return r.out;
    }

    public static String run(String... cmd) {
        return run(30, cmd);
    }

    public record Result(int exit, String out, String err) {
    }

    public static Result exec(long timeoutSeconds, String... cmd) {
        return exec(timeoutSeconds, java.util.Map.of(), List.of(cmd));
    }

    /** Run to completion with extra environment variables; the exit code is the caller's to judge. */
    public static Result exec(long timeoutSeconds, java.util.Map<String, String> env, List<String> cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            Process p = pb.start();
            var out = p.getInputStream();
            var err = p.getErrorStream();
            var outF = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(out), READERS);
            var errF = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(err), READERS);
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), outF.join(), errF.join());
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Start a background process; the caller stops it by PID (never by name). */
    public static Process start(String... cmd) {
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        } catch (IOException e) {
            throw new AssertionError("cannot start " + List.of(cmd) + ": " + e.getMessage(), e);
        }
    }

    public static void stop(Process p) {
        if (p == null) {
            return;
        }
        p.descendants().forEach(ProcessHandle::destroy);
        p.destroy();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
