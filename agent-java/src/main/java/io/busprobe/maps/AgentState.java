package io.busprobe.maps;

import io.busprobe.event.EventKind;

/**
 * What the daemon publishes in the {@code agent_state} map ({@code struct
 * bp_agent_state}) for {@code busprobe status}.
 *
 * @param heartbeatNanos CLOCK_MONOTONIC ({@code System.nanoTime()}) of the last refresh
 * @param recordsRead    records the daemon read, indexed by {@link EventKind#id()}
 * @param probesAttached bit {@code 1 << kind id} per attached probe
 */
public record AgentState(int pid, boolean degraded, long heartbeatNanos, long startedNanos, long ringSize,
                         long ringPending, long[] recordsRead, int probesAttached) {

    public long recordsRead(EventKind k) {
        return recordsRead[k.id()];
    }

    public boolean attached(EventKind k) {
        return (probesAttached & (1 << k.id())) != 0;
    }

    /** Whether the publishing daemon is alive: its pid exists and it refreshed recently. */
    public boolean alive(long nowNanos) {
        return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                && nowNanos - heartbeatNanos < 10_000_000_000L;
    }
}
