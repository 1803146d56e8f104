package io.busprobe.maps;

import java.nio.file.Path;

/** Nothing is pinned where a daemon would have pinned its maps. */
public final class NoDaemonException extends IllegalStateException {
    public NoDaemonException(Path dir) {
        super("no busprobe daemon is running (no maps pinned in " + dir + "); start one with 'busprobe run'");
    }

    public NoDaemonException(String message) {
        super(message);
    }
}
