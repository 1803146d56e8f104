package io.busprobe.cli;

import io.busprobe.agent.DaemonLock;
import io.busprobe.ffi.HostProblem;
import io.busprobe.ffi.Preflight;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.NoDaemonException;
import io.busprobe.maps.SocketTable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The daemon of a pin directory, as the commands that read or change it find it: alive when it
 * holds its lock ({@link DaemonLock}), which only a live process can, and reached through the
 * maps it pinned. {@code status}, {@code sample}, {@code endpoints} and {@code top} all ask here,
 * so they agree on whether a daemon runs.
 *
 * {@snippet :
 * try (RunningDaemon d = RunningDaemon.find(PinDir.resolve())) {
 *     AgentState state = d.control().agentState();
 * }
 * }
 */
final class RunningDaemon implements AutoCloseable {
    private final Path pinDir;
    private final long pid;
    private final ControlMaps control;

    private RunningDaemon(Path pinDir, long pid, ControlMaps control) {
        this.pinDir = pinDir;
        this.pid = pid;
        this.control = control;
    }

    /**
     * @throws HostProblem not root (exit 3)
     * @throws NoDaemonException           no daemon holds the lock, or it has not pinned its maps yet (exit 1)
     */
    static RunningDaemon find(Path pinDir) {
        Preflight.privileges();
        long pid = require(pinDir);
        ControlMaps maps;
        try {
            maps = ControlMaps.openPinned(pinDir);
        } catch (NoDaemonException e) {
            throw starting(pid);
        }
        return new RunningDaemon(pinDir, pid, maps);
    }

    /** The pid of the daemon holding {@code pinDir}'s lock, or a one-line error saying none does. */
    static long require(Path pinDir) {
        OptionalLong holder = DaemonLock.holder(pinDir);
        if (holder.isPresent()) {
            return holder.getAsLong();
        }
        throw new NoDaemonException("no busprobe daemon is running on " + pinDir + " (no process holds "
                + DaemonLock.path(pinDir) + (Files.exists(pinDir.resolve(ControlMaps.AGENT_STATE))
                ? "; the maps there were left by one that is gone" : "")
                + "); start one with 'busprobe run'");
    }

    private static NoDaemonException starting(long pid) {
        return new NoDaemonException("the busprobe daemon" + (pid > 0 ? " (pid " + pid + ")" : "")
                + " is still starting: its maps are not pinned yet; try again in a moment");
    }

    /** The lock holder's pid; 0 or less when it runs in a pid namespace this process cannot see. */
    long pid() {
        return pid;
    }

    ControlMaps control() {
        return control;
    }

    /** Evictions from the socket table, from the daemon's pinned counter; empty for an earlier daemon's pins. */
    OptionalLong socketTableEvictions() {
        return SocketTable.pinnedEvictions(pinDir);
    }

    /**
     * The state the daemon published; a one-line error when what is pinned is an earlier daemon's
     * (this one has not published yet).
     */
    AgentState state() {
        AgentState a = control.agentState();
        if (pid > 0 && !samePid(pid, a.pid())) {
            throw starting(pid);
        }
        return a;
    }

    /**
     * Whether the daemon that published {@code published} (its pid as it sees it) is the process
     * {@code holder} (its pid here): the same number, or, for a daemon in a pid namespace of its own
     * (a container), one of the pids its {@code NSpid} line lists.
     */
    static boolean samePid(long holder, long published) {
        if (holder == published) {
            return true;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + holder + "/status"))) {
                if (line.startsWith("NSpid:")) {
                    for (String p : line.substring(6).trim().split("\\s+")) {
                        if (p.equals(Long.toString(published))) {
                            return true;
                        }
                    }
                }
            }
        } catch (java.io.IOException e) {
            return false; // gone meanwhile
        }
        return false;
    }

    /** Whether the daemon found by {@link #find} still holds its lock; {@code top} asks at every refresh. */
    void requireStillRunning() {
        OptionalLong now = DaemonLock.holder(pinDir);
        if (now.isEmpty() || now.getAsLong() != pid) {
            throw new NoDaemonException("the busprobe daemon" + (pid > 0 ? " (pid " + pid + ")" : "")
                    + " stopped; start one with 'busprobe run'");
        }
    }

    @Override
    public void close() {
        control.close();
    }
}
