package io.busprobe.bpf;

/**
 * What became of one probe at load and attach: attached, or why not.
 *
 * @param detail the reason when not attached, else empty
 */
public record ProbeStatus(Probe probe, State state, String detail) {
    public enum State {
        ATTACHED, NOT_SELECTED, MISSING_TRACEPOINT, FAILED
    }

    public boolean attached() {
        return state == State.ATTACHED;
    }

    @Override
    public String toString() {
        return probe.tracepoint() + ": " + state.name().toLowerCase(java.util.Locale.ROOT)
                + (detail.isEmpty() ? "" : " (" + detail + ")");
    }
}
