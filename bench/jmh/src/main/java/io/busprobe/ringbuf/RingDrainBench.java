package io.busprobe.ringbuf;

import io.busprobe.bindings.bp_event;
import io.busprobe.connection.ConnectionTable;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.jmh.EventMix;
import io.busprobe.jmh.SyntheticRing;
import io.busprobe.metrics.AgentMetrics;
import io.busprobe.metrics.BenchMetrics;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.snapshots.Unit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The agent's ring reader ({@link RingConsumer}, the raw layer of
 * {@link RingBuffer}) draining {@value #RECORDS} committed {@code bp_event}
 * records from a synthetic 1 MiB ring (stays in L2, like bench/ring-drain's
 * hot ring), with {@link RingBuffer#consume}'s batch loop. Scores are per
 * record ({@link OperationsPerInvocation}), so {@code -prof gc}'s
 * {@code gc.alloc.rate.norm} is bytes allocated per record.
 *
 * <p>Each invocation rewinds {@code consumer_pos} (one store) so the same
 * records are committed and unread again; the records start half-way
 * into the ring, so one of them wraps the end and is read through the second
 * copy of the data, as on the real double mapping.
 *
 * <ul>
 * <li>{@code trivial}: the handler adds the record offset to a sum: the
 *     reader's own cost (header acquire load, bit tests, position
 *     publishing).</li>
 * <li>{@code decodeAll}: an {@link EventView} handler reading every
 *     fixed-width field, common and per kind (not the sink-only
 *     {@code comm()}, {@code saddr()}, {@code daddr()}, which allocate by
 *     design).</li>
 * <li>{@code daemon}: what {@code Daemon.run}'s handler does per record
 *     without {@code --events}: count by kind, the real
 *     {@link AgentMetrics#onEvent} (delivery-latency histogram) and the
 *     {@link ConnectionTable}. A copy of that lambda's body: the lambda
 *     itself lives inside {@code run()}, which needs a kernel session.</li>
 * <li>{@code daemonClientHistogram}: the same with client_java's classic
 *     {@link Histogram} as the agent had it before {@code DeliveryLatency}
 *     (commit 8f5f677) in place of {@code onEvent}: whether the client's
 *     per-call lambda is scalar-replaced in the real inlining context, not
 *     only in a micro-benchmark of its own.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xms64m", "-Xmx64m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
public class RingDrainBench {
    static final long RING_BYTES = 1 << 20;
    /** 6144 records of 152 ring bytes (144-byte bp_event + header): 89 % of the ring. */
    static final int RECORDS = 6144;
    /** {@link RingBuffer}'s batch per consume() pass. */
    private static final int BATCH = 4096;

    private SyntheticRing ring;
    private RingConsumer consumer;
    private long start;
    private AgentMetrics metrics;

    private final Trivial trivial = new Trivial();
    private final DecodeAll decodeAll = new DecodeAll();
    private DaemonWork daemon;
    private DaemonWithClientHistogram daemonClientHistogram;

    @Setup(Level.Trial)
    public void fill() {
        ring = new SyntheticRing(RING_BYTES);
        if (RECORDS * SyntheticRing.total((int) bp_event.sizeof()) > RING_BYTES) {
            throw new IllegalStateException("bp_event grew: " + RECORDS + " records no longer fit in the ring");
        }
        start = RING_BYTES / 2 + 8 * 1000; // not a multiple of the record size: one record wraps
        ring.startAt(start);
        long now = System.nanoTime();
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment rec = scratch.allocate(bp_event.layout());
            for (int i = 0; i < RECORDS; i++) {
                EventMix.write(rec, i, now - 1_000_000L + i);
                long pos = ring.reserve((int) rec.byteSize());
                ring.write(pos, rec);
                ring.commit(pos, (int) rec.byteSize());
            }
        }
        consumer = new RingConsumer(ring.consumerPage, ring.producerPage, ring.data, RING_BYTES);
        metrics = BenchMetrics.start();
        daemon = new DaemonWork(metrics);
        daemonClientHistogram = new DaemonWithClientHistogram(Histogram.builder()
                .name("busprobe_delivery_latency_seconds").classicOnly()
                .classicUpperBounds(BenchMetrics.latencyBuckets()).withoutExemplars().build());
        // one checked drain: every record handed out once, nothing discarded, the ring empty after
        int n = drain(trivial);
        if (n != RECORDS || consumer.discarded() != 0 || ring.consumerPos() != ring.producerPos()) {
            throw new IllegalStateException("drained " + n + " of " + RECORDS + " records, discarded "
                    + consumer.discarded() + ", consumer at " + ring.consumerPos() + " of " + ring.producerPos());
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        metrics.close();
        ring.close();
    }

    /** Every record committed and unread again, then {@link RingBuffer#consume}'s loop. */
    private int drain(RecordHandler handler) {
        ring.rewindConsumer(start);
        int total = 0;
        int n;
        do {
            n = consumer.consume(handler, BATCH);
            total += n;
        } while (n == BATCH);
        return total;
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long trivial() {
        drain(trivial);
        return trivial.sum;
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long decodeAll() {
        drain(decodeAll);
        return decodeAll.sum;
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long daemon() {
        drain(daemon);
        return daemon.readByKind[EventKind.STATE.id()] + daemon.connections.size();
    }

    @Benchmark
    @OperationsPerInvocation(RECORDS)
    public long daemonClientHistogram() {
        drain(daemonClientHistogram);
        return daemonClientHistogram.readByKind[EventKind.STATE.id()] + daemonClientHistogram.connections.size();
    }

    static final class Trivial implements RecordHandler {
        long sum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            sum += offset;
        }
    }

    static final class DecodeAll implements RecordHandler {
        private final EventView ev = new EventView();
        long sum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            EventView e = ev.wrap(data, offset);
            long s = e.tsNanos() ^ e.sockCookie() ^ e.cgroupId();
            s += e.pid() + e.tid() + e.netns() + e.kindId() + e.state() + e.flags() + e.endpoint() + e.direction();
            s += (e.ownerKnown() ? 1 : 0) + (e.taskValid() ? 2 : 0);
            s += e.family() + e.protocol() + e.sport() + e.dport() + e.saddrV4() + e.daddrV4();
            EventKind kind = e.kind();
            if (kind != null) {
                switch (kind) {
                    case RETRANSMIT, RETRANSMIT_SYNACK -> s += e.retransmitSegs() + e.retransmitErr()
                            + e.retransmitKind() + e.caState() + e.srttMicros() + e.sndCwnd() + e.totalRetrans();
                    case STATE -> s += e.oldState() + e.newState() + e.stateTotalRetrans() + e.stateBytesSent()
                            + e.stateBytesReceived() + e.stateSegsOut() + e.stateSegsIn() + e.stateDurationNanos();
                    case RESET_SENT, RESET_RECEIVED -> s += e.resetReason();
                    case RCVQUEUE_FULL, EXCEED_BUF_LIMIT -> s += e.allocated() + e.rmemAlloc() + e.rcvbuf()
                            + e.truesize() + e.wmemQueued() + e.sndbuf() + e.memKind().length();
                }
            }
            sum += s;
        }
    }

    /** Daemon.run's per-record handler with --events off (eventStream == null). */
    static final class DaemonWork implements RecordHandler {
        private final EventView view = new EventView();
        final long[] readByKind = new long[EventKind.MAX];
        private final AgentMetrics metrics;
        final ConnectionTable connections = new ConnectionTable(null);

        DaemonWork(AgentMetrics metrics) {
            this.metrics = metrics;
        }

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            EventView ev = view.wrap(data, offset);
            readByKind[ev.kindId() % readByKind.length]++;
            metrics.onEvent(ev.tsNanos());
            connections.onEvent(ev);
        }
    }

    /** {@link DaemonWork} with the client's histogram observing the delivery latency. */
    static final class DaemonWithClientHistogram implements RecordHandler {
        private final EventView view = new EventView();
        final long[] readByKind = new long[EventKind.MAX];
        private final Histogram latency;
        final ConnectionTable connections = new ConnectionTable(null);

        DaemonWithClientHistogram(Histogram latency) {
            this.latency = latency;
        }

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            EventView ev = view.wrap(data, offset);
            readByKind[ev.kindId() % readByKind.length]++;
            latency.observe(Unit.nanosToSeconds(System.nanoTime() - ev.tsNanos()));
            connections.onEvent(ev);
        }
    }
}
