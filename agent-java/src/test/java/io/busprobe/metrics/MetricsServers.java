package io.busprobe.metrics;

import java.io.PrintWriter;

/**
 * Test helper: an {@link AgentMetrics} serving a stub {@link MetricsSource}, built the way the
 * daemon builds one ({@link AgentMetrics#listen}, then attach), with the kernel's run statistics
 * left off so that a unit test needs no root. Closed again if attaching fails.
 */
final class MetricsServers {
    private MetricsServers() {
    }

    static AgentMetrics start(String hostPort, MetricsSource source, boolean kernelStats, PrintWriter log) {
        AgentMetrics m = AgentMetrics.listen(hostPort);
        try {
            return m.attach(source, kernelStats, log);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }
}
