package io.busprobe.maps;

import io.busprobe.event.EventKind;

/**
 * What the daemon publishes in the {@code agent_state} map ({@code struct
 * bp_agent_state}) for {@code busprobe status} and {@code busprobe endpoints reload}.
 * Whether that daemon still runs is not in here: a crashed daemon's state stays as it was,
 * so the commands ask its lock ({@code DaemonLock}).
 *
 * @param heartbeatNanos CLOCK_MONOTONIC ({@code System.nanoTime()}) of the last refresh
 * @param recordsRead    records the daemon read, indexed by {@link EventKind#id()}
 * @param probesAttached bit {@code 1 << kind id} per attached probe
 * @param reload         the last endpoint reload's outcome
 * @param endpoints      endpoints of the running config
 * @param rules          their port/prefix rules
 */
public record AgentState(int pid, boolean degraded, long heartbeatNanos, long startedNanos, long ringSize,
                         long ringPending, long[] recordsRead, int probesAttached, Reload reload, int endpoints,
                         int rules) {

    /**
     * One endpoint reload: when it began ({@code System.nanoTime()}, 0 for none yet), how it
     * ended and the daemon's one-line verdict, as its log has it.
     */
    public record Reload(long startedNanos, Result result, String message) {
        public static final Reload NONE = new Reload(0, Result.NONE, "");
    }

    /** {@code enum bp_reload}. */
    public enum Result {
        NONE, OK, BAD_CONFIG, FAILED;

        static Result ofId(int id) {
            return id >= 0 && id < values().length ? values()[id] : FAILED;
        }
    }

    public long recordsRead(EventKind k) {
        return recordsRead[k.id()];
    }

    public boolean attached(EventKind k) {
        return (probesAttached & (1 << k.id())) != 0;
    }
}
