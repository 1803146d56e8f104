package io.busprobe.control;

import io.busprobe.ffi.Sys;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where the daemon pins its maps: {@code /sys/fs/bpf/busprobe} (root-only), or
 * {@code $BUSPROBE_PIN_DIR} for tests and side-by-side instances.
 */
public final class PinDir {
    public static final Path DEFAULT = Path.of("/sys/fs/bpf/busprobe");
    private static final Path BPFFS = Path.of("/sys/fs/bpf");

    private PinDir() {
    }

    public static Path resolve() {
        String env = System.getenv("BUSPROBE_PIN_DIR");
        return env == null || env.isBlank() ? DEFAULT : Path.of(env);
    }

    /** Mount bpffs at /sys/fs/bpf if needed and create {@code dir} with mode 0700. */
    public static void prepare(Path dir) {
        try {
            if (!isBpffs(BPFFS)) {
                mountBpffs();
            }
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
            }
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare pin directory " + dir + ": " + e.getMessage(), e);
        }
    }

    static boolean isBpffs(Path mountPoint) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[1].equals(mountPoint.toString()) && f[2].equals("bpf")) {
                return true;
            }
        }
        return false;
    }

    private static void mountBpffs() {
        Sys.mount("bpf", BPFFS.toString(), "bpf");
    }
}
