package io.busprobe.metrics;

import io.busprobe.event.EventKind;

/**
 * What the automatic-degradation loop has decided, read by the metrics at
 * scrape time. Implemented by the sampling side, which owns the decision;
 * {@link AgentMetrics#degradation} plugs it in. Until then the metrics report
 * degradation as inactive and every loaded kind at 1-in-1.
 *
 * <p>Both methods are called from the HTTP scrape thread, concurrently with the
 * consumer: implementations return the last published decision (a volatile read),
 * never block and never allocate per call.
 *
 * {@snippet :
 * metrics.degradation(new DegradationView() {
 *     public boolean active() { return sampler.degraded(); }
 *     public int every(EventKind k) { return sampler.every(k); }
 * });
 * }
 */
public interface DegradationView {
    /** Whether the agent has lowered sampling on its own because the ring was under pressure. */
    boolean active();

    /** The current 1-in-N sampling of a kind's ring records; 0 or less when the kind is off. */
    int every(EventKind k);
}
