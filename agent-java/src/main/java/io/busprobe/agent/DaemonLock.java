package io.busprobe.agent;

import io.busprobe.maps.PinDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.OptionalLong;

/**
 * One daemon per pin directory: a lock file in {@code /run/busprobe/} (systemd's
 * {@code RuntimeDirectory=busprobe}), locked with a POSIX record lock for the daemon's whole life.
 * The kernel drops the lock with the process, however it ends, so the lock is also how every
 * command tells that a daemon runs: a held lock is a live daemon, and {@code /proc/locks} names
 * its pid. A pid and a heartbeat in a map cannot say as much: a crashed daemon's pid can be
 * reused, and its heartbeat stays young for a while.
 *
 * <p>The daemon removes the file when it stops: it unlinks it while still holding the lock, and
 * a daemon that locked a file someone unlinked meanwhile sees that the path no longer leads to
 * its lock and tries again, so two daemons never hold locks on two different files of one path.
 * After {@code kill -9} the file stays, unlocked, and the next daemon on those pins takes it.
 *
 * {@snippet :
 * try (DaemonLock lock = DaemonLock.acquire(PinDir.resolve())) {
 *     ... // DaemonLock.holder(PinDir.resolve()) is now this process's pid, for every process
 * }
 * }
 */
public final class DaemonLock implements AutoCloseable {
    /** Where the locks live; systemd's RuntimeDirectory=busprobe makes the same folder. */
    static final Path RUN_DIR = Path.of("/run/busprobe");
    private static final Path PROC_LOCKS = Path.of("/proc/locks");

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private DaemonLock(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of the daemon that pins its maps in {@code pinDir}. */
    public static Path path(Path pinDir) {
        String suffix = pinDir.equals(PinDir.DEFAULT) ? ""
                : "-" + Integer.toHexString(pinDir.toAbsolutePath().toString().hashCode());
        return RUN_DIR.resolve("daemon" + suffix + ".lock");
    }

    /**
     * Take the lock of {@code pinDir}'s daemon and write this process's pid into the file.
     *
     * @throws IllegalStateException another daemon holds it (the message names its pid)
     * @throws UncheckedIOException  the lock file cannot be made
     */
    public static DaemonLock acquire(Path pinDir) {
        Path path = path(pinDir);
        long self = ProcessHandle.current().pid();
        try {
            Files.createDirectories(RUN_DIR);
            // a few rounds at most: each retry means a daemon removed the file between our open and our lock
            for (int attempt = 0; attempt < 10; attempt++) {
                FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (IOException | RuntimeException e) {
                    ch.close();
                    throw e;
                }
                if (l == null) {
                    ch.close();
                    OptionalLong pid = holder(pinDir);
                    String who = pid.isPresent() && pid.getAsLong() > 0 ? " (pid " + pid.getAsLong() + ")" : "";
                    throw new IllegalStateException("another busprobe daemon" + who + " is running on " + pinDir
                            + " (it holds " + path + "); stop it first" + (who.isEmpty() ? ""
                            : " (kill " + pid.getAsLong() + ", or systemctl stop busprobe)")
                            + ", or give this one other pins with BUSPROBE_PIN_DIR");
                }
                if (isOurs(path, self)) {
                    ch.truncate(0);
                    ch.write(ByteBuffer.wrap((self + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                    return new DaemonLock(path, ch, l);
                }
                l.release();
                ch.close();
            }
            throw new IllegalStateException("cannot take " + path + ": it keeps being replaced; is another busprobe "
                    + "daemon starting and stopping on " + pinDir + "?");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * The pid of the daemon that holds {@code pinDir}'s lock, read from {@code /proc/locks}; empty
     * when no process holds it (no daemon runs there, whatever its maps say). Takes no lock and
     * creates nothing. A pid of 0 or less means a holder this process cannot see (another pid
     * namespace).
     */
    public static OptionalLong holder(Path pinDir) {
        return holderOf(path(pinDir));
    }

    /**
     * Whether the file at {@code path} now is the one this process locked. Where {@code /proc/locks}
     * cannot be read (a sandbox hiding it), the lock is taken as it is: only a daemon stopping in the
     * very moment between our open and our lock could have unlinked it.
     */
    private static boolean isOurs(Path path, long self) {
        try {
            return holderOf(path).orElse(-1) == self;
        } catch (UncheckedIOException e) {
            return true;
        }
    }

    private static OptionalLong holderOf(Path path) {
        long ino;
        long dev;
        try {
            ino = ((Number) Files.getAttribute(path, "unix:ino")).longValue();
            dev = ((Number) Files.getAttribute(path, "unix:dev")).longValue();
        } catch (NoSuchFileException e) {
            return OptionalLong.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
        List<String> locks;
        try {
            locks = Files.readAllLines(PROC_LOCKS);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + PROC_LOCKS + ": " + e.getMessage(), e);
        }
        return holderIn(locks, major(dev), minor(dev), ino);
    }

    /**
     * The pid holding a lock on the file {@code major:minor:ino} among {@code /proc/locks} lines,
     * which read {@code 1: POSIX  ADVISORY  WRITE 20158 00:1a:1234 0 EOF} (fs/locks.c,
     * lock_get_status(): major and minor in hex, the inode in decimal); a line with {@code ->} is
     * a process waiting for the lock, not holding it.
     */
    static OptionalLong holderIn(List<String> lines, long major, long minor, long ino) {
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 6 || line.contains("->")) {
                continue;
            }
            String[] file = f[5].split(":");
            if (file.length != 3) {
                continue;
            }
            try {
                if (Long.parseLong(file[0], 16) == major && Long.parseLong(file[1], 16) == minor
                        && Long.parseLong(file[2]) == ino) {
                    return OptionalLong.of(Long.parseLong(f[4]));
                }
            } catch (NumberFormatException e) {
                // not a lock line this parser knows; the next may be
            }
        }
        return OptionalLong.empty();
    }

    /** major(3) and minor(3) of a dev_t as glibc encodes it (st_dev). */
    static long major(long dev) {
        return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & 0xfffff000L);
    }

    static long minor(long dev) {
        return (dev & 0xff) | ((dev >>> 12) & 0xffffff00L);
    }

    /** Remove the file, then let go of the lock: the path never leads to a released lock. */
    @Override
    public void close() {
        try {
            if (isOurs(path, ProcessHandle.current().pid())) {
                Files.deleteIfExists(path);
            }
        } catch (IOException | UncheckedIOException e) {
            // the file stays; the next daemon on these pins takes it over as after a crash
        } finally {
            try {
                lock.release();
            } catch (IOException e) {
                // closing the channel below releases it as well
            }
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + path + ": " + e.getMessage(), e);
            }
        }
    }
}
