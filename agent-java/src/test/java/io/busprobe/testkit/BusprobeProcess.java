package io.busprobe.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code busprobe} as a user runs it: a separate JVM on the test classpath,
 * with its own pin directory so tests never touch a real daemon's maps.
 */
public final class BusprobeProcess {
    private final Path pinDir;

    public BusprobeProcess(Path pinDir) {
        this.pinDir = pinDir;
    }

    public Path pinDir() {
        return pinDir;
    }

    /** Remove the pin directory and what a daemon left in it (tests run daemons on their own pins). */
    public void removePins() throws IOException {
        if (Files.isDirectory(pinDir)) {
            try (var files = Files.list(pinDir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(pinDir);
        }
    }

    private static String nobodyClasspath;

    /**
     * The test classpath copied where an unprivileged user can read it (the
     * Maven repository under /root is not), for running busprobe as nobody.
     */
    static synchronized String nobodyClasspath() {
        if (nobodyClasspath != null) {
            return nobodyClasspath;
        }
        try {
            Path dir = Files.createTempDirectory("busprobe-cp-");
            List<String> entries = new ArrayList<>();
            int i = 0;
            for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                Path src = Path.of(entry);
                if (!Files.exists(src)) {
                    continue;
                }
                Path dst = dir.resolve((i++) + "-" + src.getFileName());
                Sh.run("cp", "-r", src.toString(), dst.toString());
                entries.add(dst.toString());
            }
            Sh.run("chmod", "-R", "a+rX", dir.toString());
            nobodyClasspath = String.join(java.io.File.pathSeparator, entries);
            return nobodyClasspath;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** Run as the unprivileged user nobody (uid 65534), no capabilities. */
    public Sh.Result runAsNobody(String... args) {
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                "--inh-caps", "-all"));
        List<String> java = command(List.of(), args);
        int cp = java.indexOf("-cp");
        java.set(cp + 1, nobodyClasspath());
        cmd.addAll(java);
        return runCommand(cmd, args);
    }

    private List<String> command(List<String> prefix, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-XX:TieredStopAtLevel=1"); // short-lived CLI calls: start fast
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.busprobe.cli.Main");
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * A shell script that runs {@code busprobe ARGS} on these pins, for a process that is not
     * started from Java (a command inside tmux or script(1)).
     */
    public Path script(Path dir, String... args) {
        StringBuilder sb = new StringBuilder("#!/bin/sh\nexport BUSPROBE_PIN_DIR='" + pinDir + "'\nexec");
        for (String word : command(List.of(), args)) {
            sb.append(" '").append(word.replace("'", "'\\''")).append('\'');
        }
        Path file = dir.resolve("busprobe.sh");
        try {
            Files.writeString(file, sb.append('\n').toString());
            Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return file;
    }

    private ProcessBuilder builder(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.put("BUSPROBE_PIN_DIR", pinDir.toString());
        return pb;
    }

    /** Start a long-running command (the daemon); stderr is captured. */
    public Daemon startDaemon(String... args) {
        return startDaemon(List.of(), args);
    }

    /** Start the daemon under a wrapper such as {@code setpriv --bounding-set=...}; stderr is captured. */
    public Daemon startDaemon(List<String> wrapper, String... args) {
        try {
            Process p = builder(command(wrapper, args)).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            return new Daemon(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    public Sh.Result run(String... args) {
        return run(List.of(), args);
    }

    /** Run a command to completion, optionally under a wrapper such as setpriv. */
    public Sh.Result run(List<String> wrapper, String... args) {
        return runCommand(command(wrapper, args), args);
    }

    private Sh.Result runCommand(List<String> cmd, String... args) {
        return Sh.exec(60, Map.of("BUSPROBE_PIN_DIR", pinDir.toString()), cmd);
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** A daemon process; {@link #stop} sends SIGTERM and waits. */
    public static final class Daemon implements AutoCloseable {
        private final Process process;
        private final StringBuffer log = new StringBuffer();

        Daemon(Process process) {
            this.process = process;
            Thread.ofVirtual().start(() -> {
                try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(process.getErrorStream()))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        log.append(line).append('\n');
                    }
                } catch (IOException e) {
                    log.append("log reader: ").append(e.getMessage());
                }
            });
            Thread.ofVirtual().start(() -> read(process.getInputStream()));
        }

        public String log() {
            return log.toString();
        }

        public long pid() {
            return process.pid();
        }

        /** The JVM process itself (exit code, waiting, signals other than SIGTERM). */
        public Process process() {
            return process;
        }

        /**
         * Wait until the daemon logged that it started, or fail with its log. A daemon that did not
         * start is stopped before the failure: callers use this inside try-with-resources, which
         * never sees a resource whose initialiser threw, and a leftover daemon would hold the pins
         * and the lock of every later test of the class. The limit is generous: the suite shares
         * its host, and loading waits for the CPU like everything else.
         */
        public Daemon awaitStarted() {
            long deadline = System.nanoTime() + 90_000_000_000L;
            while (System.nanoTime() < deadline) {
                if (log().contains(" started, ")) {
                    try {
                        Thread.sleep(300); // first state publication
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return this;
                }
                if (!process.isAlive()) {
                    throw new AssertionError("daemon exited " + process.exitValue() + ": " + log());
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            String log = log();
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new AssertionError("daemon did not start in 90 s: " + log);
        }

        public int stop() {
            Sh.run("kill", "-TERM", Long.toString(process.pid()));
            try {
                if (!process.waitFor(20, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new AssertionError("daemon did not stop on SIGTERM: " + log());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return process.exitValue();
        }

        @Override
        public void close() {
            if (process.isAlive()) {
                stop();
            }
        }
    }
}
