package io.busprobe.metrics;

/**
 * Whether the automatic-degradation loop is thinning any kind, read by the metrics at scrape
 * time. Implemented by the agent's controller, which owns the decision;
 * {@link AgentMetrics#degradation} plugs it in. Until then the metrics report degradation as
 * inactive. (The 1-in-N it decided reaches {@code busprobe_sampling_ratio} through the
 * {@code sampling_auto} map, see {@link MetricsSource#sampling}.)
 *
 * <p>Called from the HTTP scrape thread, concurrently with the consumer: implementations return
 * the last published decision (a volatile read), never block and never allocate per call.
 *
 * {@snippet :
 * metrics.degradation(degrader::active);
 * }
 */
@FunctionalInterface
public interface DegradationView {
    /** Whether the agent has lowered sampling on its own because the ring was under pressure. */
    boolean active();
}
