package io.busprobe.metrics;

import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.snapshots.Unit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One delivery-latency observation: busprobe's {@link DeliveryLatency#record}
 * against Prometheus client_java's {@link Histogram#observe}, which
 * DeliveryLatency replaced because it allocated per call. Same buckets
 * ({@link AgentMetrics#LATENCY_BUCKETS}), same inputs: 1024 latencies spread
 * log-uniformly over 10 µs .. 100 ms, cycled. One thread, as on the consumer.
 *
 * <ul>
 * <li>{@code deliveryLatency}: what the agent runs per record.</li>
 * <li>{@code clientClassic}: client_java as the agent used it before
 *     (commit 8f5f677): those classic buckets only, no exemplars.</li>
 * <li>{@code clientDefault}: client_java's builder defaults with the same
 *     classic buckets: plus a native histogram and exemplar sampling.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xms64m", "-Xmx64m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
public class DeliveryLatencyBench {
    private static final int INPUTS = 1024;

    private final long[] nanos = new long[INPUTS];
    private int next;
    private DeliveryLatency ours;
    private Histogram clientClassic;
    private Histogram clientDefault;

    @Setup
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < INPUTS; i++) {
            nanos[i] = Math.round(Math.pow(10, 4 + 4 * rnd.nextDouble())); // 1e4 .. 1e8 ns
        }
        ours = new DeliveryLatency(AgentMetrics.LATENCY_BUCKETS);
        // exactly what AgentMetrics built before DeliveryLatency replaced it (commit 8f5f677)
        clientClassic = Histogram.builder().name("bench_classic_seconds").classicOnly()
                .classicUpperBounds(AgentMetrics.LATENCY_BUCKETS).withoutExemplars().build();
        clientDefault = Histogram.builder().name("bench_default_seconds")
                .classicUpperBounds(AgentMetrics.LATENCY_BUCKETS).build();
    }

    private long nextNanos() {
        return nanos[next++ & (INPUTS - 1)];
    }

    @Benchmark
    public void deliveryLatency() {
        ours.record(nextNanos());
    }

    @Benchmark
    public void clientClassic() {
        clientClassic.observe(Unit.nanosToSeconds(nextNanos()));
    }

    @Benchmark
    public void clientDefault() {
        clientDefault.observe(Unit.nanosToSeconds(nextNanos()));
    }
}
