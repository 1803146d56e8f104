package io.busprobe.metrics;

import io.busprobe.agent.Session;

/**
 * Prometheus metrics of a running agent, served over HTTP.
 * (Stub: the metrics issue fills this in.)
 */
public final class AgentMetrics implements AutoCloseable {
    /** Default listen address of {@code busprobe run --metrics-address}. */
    public static final String DEFAULT_ADDRESS = "0.0.0.0:9477";

    private AgentMetrics() {
    }

    /** Register collectors that read the session's maps at scrape time and start the HTTP server. */
    public static AgentMetrics start(String hostPort, Session session) {
        return new AgentMetrics();
    }

    /** Per-event hook on the consumer thread; must not allocate. */
    public void onEvent(long kernelTsNanos) {
    }

    @Override
    public void close() {
    }
}
