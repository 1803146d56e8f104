package io.busprobe.maps;

import io.busprobe.ffi.Errno;
import io.busprobe.ffi.HostProblem;
import io.busprobe.ffi.NativeException;
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

    /**
     * Mount bpffs at /sys/fs/bpf if needed and create {@code dir} with mode 0700.
     * Runs before anything is loaded: a host where pins cannot live fails here, in one line.
     *
     * @throws HostProblem bpffs cannot be mounted, or {@code dir} is not on a bpf filesystem
     */
    public static void prepare(Path dir) {
        try {
            if (!isBpffs(BPFFS) && dir.toAbsolutePath().startsWith(BPFFS)) {
                try {
                    mountBpffs();
                } catch (NativeException e) {
                    throw new HostProblem("cannot mount bpffs at " + BPFFS + " (" + Errno.name(e.errno())
                            + "): mount it first (mount -t bpf bpf " + BPFFS + ") or give busprobe CAP_SYS_ADMIN", e);
                }
            }
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir);
            }
            String type = Files.getFileStore(dir).type();
            if (!type.equals("bpf")) {
                throw new HostProblem("pin directory " + dir + " is on " + type + ", not bpffs: pins only live on "
                        + "a bpf filesystem; use a directory under " + BPFFS + " (BUSPROBE_PIN_DIR)");
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
