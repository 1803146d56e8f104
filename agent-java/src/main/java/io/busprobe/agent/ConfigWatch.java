package io.busprobe.agent;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Tells the daemon at once that its {@code --config} file may have changed, so that nothing has to
 * look at the file every second: the JDK's {@link WatchService} (inotify on Linux) watches the
 * directory the path names and the directory it resolves to, which differ when the file is a
 * symlink (a Kubernetes ConfigMap swaps its {@code ..data} link in the first; an edit in place
 * of a symlink's target happens in the second). Any event in either calls {@code onEvent}, which
 * decides from the file's stamp whether it changed; after each event the resolved directory is
 * watched anew, since a swapped link may point elsewhere.
 *
 * <p>A file system without inotify (NFS, some FUSE mounts) sends nothing: the control tick still
 * compares the stamp every {@link Daemon#IDLE_TICK_MILLIS} ms as a fallback. The watching thread
 * sleeps in the kernel until an event comes; closing the watch ends it.
 */
final class ConfigWatch implements AutoCloseable {
    private final Path file;
    private final Runnable onEvent;
    private final WatchService watcher;
    private final Thread thread;
    private final Set<Path> watched = new LinkedHashSet<>();

    private ConfigWatch(Path file, Runnable onEvent, WatchService watcher) {
        this.file = file;
        this.onEvent = onEvent;
        this.watcher = watcher;
        this.thread = Thread.ofPlatform().name("busprobe-config").daemon().unstarted(this::loop);
    }

    /**
     * Watches {@code file}'s directories, calling {@code onEvent} on the watching thread for each
     * batch of events; null when there is no file or no directory can be watched (the fallback
     * look of the control tick is then the only one, and {@code log} says so).
     */
    static ConfigWatch start(Path file, Runnable onEvent, java.util.function.Consumer<String> log) {
        if (file == null) {
            return null;
        }
        WatchService w;
        try {
            w = FileSystems.getDefault().newWatchService();
        } catch (IOException | UnsupportedOperationException e) {
            log.accept("cannot watch " + file + " for changes (" + e.getMessage() + "); looking at it every "
                    + Daemon.IDLE_TICK_MILLIS / 1000 + " s instead");
            return null;
        }
        ConfigWatch cw = new ConfigWatch(file, onEvent, w);
        if (!cw.register()) {
            log.accept("cannot watch the directory of " + file + " for changes; looking at it every "
                    + Daemon.IDLE_TICK_MILLIS / 1000 + " s instead");
            cw.close();
            return null;
        }
        cw.thread.start();
        return cw;
    }

    /** Watches the directories of the path as given and as resolved; true when at least one is watched. */
    private boolean register() {
        Set<Path> dirs = new LinkedHashSet<>();
        Path given = file.toAbsolutePath().getParent();
        if (given != null) {
            dirs.add(given);
        }
        try {
            Path real = file.toRealPath().getParent();
            if (real != null) {
                dirs.add(real);
            }
        } catch (IOException gone) {
            // between a delete and a create: the given directory tells when it is back
        }
        for (Path d : dirs) {
            if (watched.contains(d)) {
                continue;
            }
            try {
                d.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                        StandardWatchEventKinds.ENTRY_DELETE);
                watched.add(d);
            } catch (IOException | ClosedWatchServiceException e) {
                // not there (yet) or not watchable: the fallback look covers it
            }
        }
        return !watched.isEmpty();
    }

    private void loop() {
        try {
            while (true) {
                WatchKey key = watcher.take();
                key.pollEvents(); // which entry does not matter: the stamp decides
                if (!key.reset()) {
                    watched.remove((Path) key.watchable()); // the directory went away
                }
                register();
                onEvent.run();
            }
        } catch (InterruptedException | ClosedWatchServiceException stopped) {
            // close()
        }
    }

    @Override
    public void close() {
        try {
            watcher.close();
        } catch (IOException ignored) {
            // nothing is left to release
        }
        thread.interrupt();
    }
}
