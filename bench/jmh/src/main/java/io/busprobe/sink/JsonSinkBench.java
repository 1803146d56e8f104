package io.busprobe.sink;

import io.busprobe.bindings.bp_event;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventView;
import io.busprobe.jmh.EventMix;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * {@link JsonSink#event}: one event formatted as a JSON line (what
 * {@code trace --json} and {@code run --events} pay per record), into
 * Jackson's buffer, emptied into a null stream when full. Default endpoint
 * names. Allocation is expected here (comm and address strings, endpoint
 * lookup); this measures how much.
 *
 * <ul>
 * <li>{@code state}: the close of an IPv4 connection (FIN_WAIT1 -> CLOSE,
 *     with its byte and segment counts).</li>
 * <li>{@code retransmit}: a fast retransmit on IPv4.</li>
 * <li>{@code retransmit_v6}: the same on IPv6 (InetAddress formatting).</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xms64m", "-Xmx64m"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 4, time = 1)
public class JsonSinkBench {
    @Param({"state", "retransmit", "retransmit_v6"})
    public String event;

    private Arena arena;
    private EventView view;
    private JsonSink sink;

    @Setup
    public void setUp() {
        // record numbers in EventMix: step 7 is the close, step 2 a fast retransmit; connection 3 is IPv6
        int i = switch (event) {
            case "state" -> 7 * EventMix.BLOCK;
            case "retransmit" -> 2 * EventMix.BLOCK;
            case "retransmit_v6" -> 2 * EventMix.BLOCK + 3;
            default -> throw new IllegalArgumentException(event);
        };
        arena = Arena.ofShared(); // JMH may run setup on another thread than the benchmark
        MemorySegment rec = arena.allocate(bp_event.layout());
        EventMix.write(rec, i, 123_456_789_000L);
        view = new EventView().wrap(rec, 0);
        sink = new JsonSink(OutputStream.nullOutputStream(), new EndpointNames(EndpointConfig.defaults()));
    }

    @TearDown
    public void tearDown() {
        sink.close();
        arena.close();
    }

    @Benchmark
    public void event() {
        sink.event(view);
    }
}
