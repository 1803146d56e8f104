package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;

import java.io.PrintWriter;
import java.io.Writer;
import java.util.List;
import java.util.Map;

/**
 * The daemon's {@link AgentMetrics} without a kernel: the real object, with its
 * registry, collectors and HTTP server (on 127.0.0.1, a port the kernel picks),
 * over a source that has nothing to report. Nobody scrapes it during a
 * benchmark; only {@link AgentMetrics#onEvent}, the per-event hook, is driven.
 */
public final class BenchMetrics {
    private BenchMetrics() {
    }

    public static AgentMetrics start() {
        return AgentMetrics.start(ListenAddress.parse("127.0.0.1:0"), new EmptySource(), false,
                new PrintWriter(Writer.nullWriter()));
    }

    /** The daemon's delivery-latency bucket bounds, seconds. */
    public static double[] latencyBuckets() {
        return AgentMetrics.LATENCY_BUCKETS.clone();
    }

    /** What the daemon's metric collectors would read from the kernel at scrape time: nothing here. */
    private static final class EmptySource implements MetricsSource {
        @Override
        public Map<EventKind, KindStats> kindStats() {
            return Map.of();
        }

        @Override
        public boolean attached(Probe p) {
            return false;
        }

        @Override
        public EffectiveSampling sampling(EventKind k) {
            return new EffectiveSampling(false, 1, 1, 0);
        }

        @Override
        public ProgramRunStats programStats(Probe p) {
            return null;
        }

        @Override
        public long ringSizeBytes() {
            return 0;
        }

        @Override
        public long ringPendingBytes() {
            return 0;
        }

        @Override
        public long recordsRead() {
            return 0;
        }

        @Override
        public long recordsDiscarded() {
            return 0;
        }

        @Override
        public List<EndpointMaps.Name> endpointNames() {
            return List.of();
        }

        @Override
        public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
            return null;
        }
    }
}
