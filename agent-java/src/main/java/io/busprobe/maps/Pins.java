package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.Libbpf;
import io.busprobe.ffi.NativeException;
import io.busprobe.ffi.Preflight;
import io.busprobe.ffi.Sys;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opening maps a daemon pinned: for the commands that never talk to it, and for reusing its config. */
public final class Pins {
    private Pins() {
    }

    /**
     * fds of the pins {@code names} under {@code dir}, in order; all or none.
     *
     * @throws NoDaemonException when a pin is missing: no daemon is running there
     * @throws NativeException   EACCES when the directory is not ours to read (not root)
     */
    static int[] open(Path dir, String... names) {
        Preflight.privileges();
        for (String name : names) {
            if (!Files.exists(dir.resolve(name))) {
                if (Files.exists(dir) && !Files.isReadable(dir)) {
                    throw new NativeException("open " + dir, Errno.EACCES);
                }
                throw new NoDaemonException(dir);
            }
        }
        int[] fds = new int[names.length];
        java.util.Arrays.fill(fds, -1);
        try {
            for (int i = 0; i < names.length; i++) {
                fds[i] = objGet(dir.resolve(names[i]));
            }
        } catch (RuntimeException e) {
            close(fds);
            throw e;
        }
        return fds;
    }

    /** fd of one pinned map. */
    public static int objGet(Path pin) {
        try (Arena a = Arena.ofConfined()) {
            return Libbpf.check(Native.bpf_obj_get(a.allocateFrom(pin.toString())), "bpf_obj_get(" + pin + ")");
        }
    }

    static void close(int... fds) {
        for (int fd : fds) {
            if (fd >= 0) {
                Sys.close(fd);
            }
        }
    }
}
