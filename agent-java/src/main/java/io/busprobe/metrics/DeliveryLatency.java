package io.busprobe.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code busprobe_delivery_latency_seconds}: time from the kernel writing an
 * event ({@code bpf_ktime_get_ns()}, CLOCK_MONOTONIC) to the agent reading it
 * ({@code System.nanoTime()}, the same clock on Linux), per record read.
 *
 * <p>A fixed-bucket histogram of its own rather than the client's
 * {@code Histogram}: in client_java 1.10 {@code Histogram.observe} allocates an
 * {@code AtomicBoolean} (16 bytes) per call in {@code maybeResetOrScaleDown},
 * even with classic buckets only, unless C2's escape analysis removes it. In
 * bench/jmh it did (0 B per call, also inside the ring drain); in a JVM where
 * differently configured histograms share that code it did not (16 B per call,
 * JFR allocation samples). This hook runs once per record on the consumer
 * thread, where nothing may allocate, so it must not rest on the JIT.
 * {@link #record} is a binary search over {@code long} nanosecond bounds and two
 * atomic adds; the scrape thread reads the counters and builds the snapshot.
 * Counts and sum are read without a lock, so a scrape racing an event may see
 * the sum one event ahead of the buckets; Prometheus tolerates that.
 */
final class DeliveryLatency implements MultiCollector {
    static final String NAME = "busprobe_delivery_latency_seconds";

    private final double[] upperBoundsSeconds;
    private final long[] upperBoundsNanos;
    private final AtomicLongArray counts;
    private final AtomicLong sumNanos = new AtomicLong();

    /** {@code bounds} in seconds, ascending, without +Inf (added here). */
    DeliveryLatency(double[] bounds) {
        upperBoundsSeconds = new double[bounds.length + 1];
        upperBoundsNanos = new long[bounds.length];
        for (int i = 0; i < bounds.length; i++) {
            if (i > 0 && bounds[i] <= bounds[i - 1]) {
                throw new IllegalArgumentException("bucket bounds must ascend: " + bounds[i]);
            }
            upperBoundsSeconds[i] = bounds[i];
            upperBoundsNanos[i] = Math.round(bounds[i] * 1e9);
        }
        upperBoundsSeconds[bounds.length] = Double.POSITIVE_INFINITY;
        counts = new AtomicLongArray(bounds.length + 1);
    }

    /** One delivery of {@code nanos}; negative (cannot happen on one clock) counts as 0. */
    void record(long nanos) {
        long n = Math.max(nanos, 0);
        int lo = 0;
        int hi = upperBoundsNanos.length; // index of +Inf
        while (lo < hi) { // first bucket whose bound >= n ("le")
            int mid = (lo + hi) >>> 1;
            if (upperBoundsNanos[mid] >= n) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        counts.getAndIncrement(lo);
        sumNanos.getAndAdd(n);
    }

    @Override
    public MetricSnapshots collect() {
        long[] c = new long[counts.length()];
        for (int i = 0; i < c.length; i++) {
            c[i] = counts.get(i);
        }
        HistogramDataPointSnapshot point = HistogramDataPointSnapshot.builder()
                .classicHistogramBuckets(ClassicHistogramBuckets.of(upperBoundsSeconds, c))
                .sum(Unit.nanosToSeconds(sumNanos.get())).build();
        return MetricSnapshots.of(HistogramSnapshot.builder().name(NAME).unit(Unit.SECONDS)
                .help("Time from the kernel writing an event (bpf_ktime_get_ns) to the agent reading it "
                        + "(System.nanoTime, the same CLOCK_MONOTONIC), per record read.")
                .dataPoint(point).build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of(NAME);
    }
}
