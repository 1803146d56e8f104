package io.busprobe.bench;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.ring_buffer_sample_fn;
import io.busprobe.event.EventView;
import io.busprobe.ffi.Libbpf;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.ringbuf.RingBuffer;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Ring-drain benchmark: records/s drained from a full BPF ring buffer by
 * <ul>
 * <li>{@code c-libbpf}: libbpf's {@code ring_buffer__consume} with a C callback
 *     (bench/ring_c_consumer.c, loaded as libringbench.so, timed in C);</li>
 * <li>{@code java-ring}: busprobe's {@link RingBuffer#consume} with an
 *     {@link EventView} handler;</li>
 * <li>{@code java-upcall}: libbpf's {@code ring_buffer__consume} from Java with
 *     a Panama upcall stub as the callback, one upcall per record.</li>
 * </ul>
 * Every consumer does the same per-record work: read {@code ts_ns} and
 * {@code kind} and add them to a sum, checked against the expected value.
 *
 * <p>One round = for each consumer (order rotated every round): fill the ring
 * with N records via N getppid() calls (bench/ringfill.bpf.c, no consumer
 * running), then time one drain of the whole ring. All three consumers work on
 * the same map in the same process, so rounds interleave and machine noise
 * hits all of them alike. Warm-up rounds (JIT, caches) are run and discarded.
 *
 * <p>Plain timing loop, not JMH: each timed drain is one call lasting
 * milliseconds, so timer resolution and call overhead do not matter.
 */
public final class RingDrainBench {
    /** Ring bytes per record: struct bp_event (bpf/events.h) + the 8-byte ring header, rounded up to 8. */
    private static final int RECORD_BYTES = (Native.BP_EVENT_SIZE() + 8 + 7) & ~7;
    private static final String[] NAMES = {"c-libbpf", "java-ring", "java-upcall"};

    private static final class SumHandler implements RecordHandler {
        final EventView ev = new EventView();
        long sum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            ev.wrap(data, offset);
            sum += ev.tsNanos() + ev.kindId();
        }
    }

    // upcall consumer state: the stub calls a static method
    private static final EventView UP_VIEW = new EventView();
    private static long upSum;

    private static int onUpcall(MemorySegment ctx, MemorySegment data, long size) {
        UP_VIEW.wrap(data.reinterpret(size), 0);
        upSum += UP_VIEW.tsNanos() + UP_VIEW.kindId();
        return 0;
    }

    public static void main(String[] args) throws Throwable {
        long records = 2_000_000;
        int rounds = 10;
        int warmup = 3;
        Path obj = Path.of("build/bench/ringfill.bpf.o");
        Path lib = Path.of("build/bench/libringbench.so");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> records = Long.parseLong(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--obj" -> obj = Path.of(args[++i]);
                case "--lib" -> lib = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        new RingDrainBench(obj, lib, records).run(rounds, warmup);
    }

    private final Arena arena = Arena.ofShared();
    private final long records;
    private final int stateFd;
    private final RingBuffer ring;
    private final MemorySegment upRing;
    private final MethodHandle fill;
    private final MethodHandle cDrain;
    private final MemorySegment stateBuf;
    private final MemorySegment key;
    private final MemorySegment cNs;
    private final MemorySegment cSum;
    private final SumHandler handler = new SumHandler();

    private RingDrainBench(Path objPath, Path libPath, long records) throws IOException, Throwable {
        this.records = records;
        byte[] elf = Files.readAllBytes(objPath);
        MemorySegment bytes = arena.allocate(elf.length, 8);
        MemorySegment.copy(elf, 0, bytes, ValueLayout.JAVA_BYTE, 0, elf.length);
        MemorySegment obj = Libbpf.openMem(bytes);
        MemorySegment rbMap = Native.bpf_object__find_map_by_name(obj, arena.allocateFrom("bench_rb"));
        long ringSize = Integer.toUnsignedLong(Native.bpf_map__max_entries(rbMap));
        if (records * RECORD_BYTES >= ringSize) {
            throw new IllegalArgumentException(records + " records do not fit a " + ringSize + "-byte ring");
        }
        Libbpf.check(Native.bpf_object__load(obj), "bpf_object__load");
        int rbFd = Libbpf.check(Native.bpf_map__fd(rbMap), "bpf_map__fd(bench_rb)");
        stateFd = Libbpf.check(Native.bpf_map__fd(
                Native.bpf_object__find_map_by_name(obj, arena.allocateFrom("bench_state"))), "bpf_map__fd(bench_state)");
        key = arena.allocate(ValueLayout.JAVA_INT);
        stateBuf = arena.allocate(32, 8); // struct bench_state {u32 tgid; u32 wakeup; u64 seq; u64 dropped; u64 watermark;}
        stateBuf.set(ValueLayout.JAVA_INT, 0, (int) ProcessHandle.current().pid());
        Libbpf.check(Native.bpf_map_update_elem(stateFd, key, stateBuf, Native.BPF_ANY()), "bpf_map_update_elem");
        Libbpf.attach(Native.bpf_object__find_program_by_name(obj, arena.allocateFrom("bench_fill")), "bench_fill");

        Linker linker = Linker.nativeLinker();
        SymbolLookup so = SymbolLookup.libraryLookup(libPath, arena);
        fill = linker.downcallHandle(so.findOrThrow("rb_fill"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        cDrain = linker.downcallHandle(so.findOrThrow("rb_c_drain"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
        MethodHandle cOpen = linker.downcallHandle(so.findOrThrow("rb_c_open"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        cNs = arena.allocate(ValueLayout.JAVA_LONG);
        cSum = arena.allocate(ValueLayout.JAVA_LONG);
        Libbpf.check((int) cOpen.invokeExact(rbFd), "rb_c_open");

        ring = RingBuffer.map(rbFd, ringSize);

        MemorySegment stub = ring_buffer_sample_fn.allocate(RingDrainBench::onUpcall, arena);
        upRing = Native.ring_buffer__new(rbFd, stub, MemorySegment.NULL, MemorySegment.NULL);
        if (upRing.equals(MemorySegment.NULL)) {
            throw new IllegalStateException("ring_buffer__new failed");
        }
    }

    private long seq() {
        Libbpf.check(Native.bpf_map_lookup_elem(stateFd, key, stateBuf), "bpf_map_lookup_elem");
        return stateBuf.get(ValueLayout.JAVA_LONG, 8);
    }

    private long dropped() {
        Libbpf.check(Native.bpf_map_lookup_elem(stateFd, key, stateBuf), "bpf_map_lookup_elem");
        return stateBuf.get(ValueLayout.JAVA_LONG, 16);
    }

    /** Fill, drain with consumer {@code c}, verify; returns the drain time in ns. */
    private long once(int c) throws Throwable {
        long start = seq();
        long filled = (long) fill.invokeExact(records);
        long pending = ring.pendingBytes();
        if (filled != records || pending != records * RECORD_BYTES) {
            throw new IllegalStateException("fill: " + pending + " bytes pending, want " + records * RECORD_BYTES
                    + " (dropped so far: " + dropped() + ")");
        }
        long want = records * start + records * (records - 1) / 2 + records * Native.BP_KIND_RETRANSMIT();
        long n;
        long sum;
        long ns;
        switch (c) {
            case 0 -> {
                n = (long) cDrain.invokeExact(cNs, cSum);
                ns = cNs.get(ValueLayout.JAVA_LONG, 0);
                sum = cSum.get(ValueLayout.JAVA_LONG, 0);
            }
            case 1 -> {
                handler.sum = 0;
                long t0 = System.nanoTime();
                n = ring.consume(handler);
                ns = System.nanoTime() - t0;
                sum = handler.sum;
            }
            default -> {
                upSum = 0;
                long t0 = System.nanoTime();
                n = Native.ring_buffer__consume(upRing);
                ns = System.nanoTime() - t0;
                sum = upSum;
            }
        }
        if (n != records || sum != want || ring.pendingBytes() != 0) {
            throw new IllegalStateException(NAMES[c] + ": drained " + n + " of " + records
                    + " records, checksum " + sum + " want " + want);
        }
        return ns;
    }

    private void run(int rounds, int warmup) throws Throwable {
        int k = NAMES.length;
        double[][] rate = new double[k][rounds];
        double[][] ratio = new double[k][rounds]; // per round, vs c-libbpf of the same round
        for (int r = -warmup; r < rounds; r++) {
            double[] thisRound = new double[k];
            for (int j = 0; j < k; j++) {
                int c = Math.floorMod(j + r, k); // rotate the order each round
                thisRound[c] = records * 1e9 / once(c);
            }
            if (r >= 0) {
                for (int c = 0; c < k; c++) {
                    rate[c][r] = thisRound[c];
                    ratio[c][r] = thisRound[c] / thisRound[0];
                }
            }
            System.err.printf(Locale.ROOT, "%s round %d: c-libbpf %.1f  java-ring %.1f  java-upcall %.1f Mrec/s%n",
                    r < 0 ? "warm-up" : "measured", r, thisRound[0] / 1e6, thisRound[1] / 1e6, thisRound[2] / 1e6);
        }
        System.out.printf(Locale.ROOT, "records per drain: %d (%d MiB of ring), rounds: %d measured + %d warm-up%n%n",
                records, records * RECORD_BYTES >> 20, rounds, warmup);
        System.out.println("| consumer | median Mrec/s | min | max | ns/record (median) | vs c-libbpf (median of per-round ratios) |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (int c = 0; c < k; c++) {
            double med = median(rate[c]);
            System.out.printf(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.2f | %.2fx |%n", NAMES[c], med / 1e6,
                    min(rate[c]) / 1e6, max(rate[c]) / 1e6, 1e9 / med, median(ratio[c]));
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }
}
