package io.busprobe.bench;

import io.busprobe.bindings.Native;
import io.busprobe.event.EventView;
import io.busprobe.ffi.Libbpf;
import io.busprobe.ringbuf.RecordHandler;
import io.busprobe.ringbuf.RingBuffer;

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
 * A live ring: a producer thread commits records (getppid() through
 * bench/ringfill.bpf.c) while a consumer thread drains them the way the agent
 * does (the loop of {@code Session.consume}: {@link RingBuffer#consume}, then
 * {@link RingBuffer#gather} for the agent's default 2 ms while records flow, or
 * {@link RingBuffer#await} for the kernel's wakeup once the ring is empty), on a
 * ring of the agent's default size (8 MiB).
 *
 * <ul>
 * <li>{@code rate}: records/s the producer achieves under each wakeup policy
 *     (never, watermark at 1/8 of the ring as the agent's default, always),
 *     rounds rotating the policy order; the headline is the median per-round
 *     ratio to {@code never}.</li>
 * <li>{@code burst}: N records as fast as the producer can go, consumer
 *     running, watermark policy; the records the ring dropped and the time
 *     the burst took.</li>
 * </ul>
 * Every run checks records read + dropped == records produced.
 */
public final class LiveRingBench {
    private static final String[] POLICIES = {"never", "always", "watermark"}; // index = BENCH_WAKEUP_*
    private static final int NEVER = 0, WATERMARK = 2;
    private static final long STATE_BYTES = 32; // struct bench_state in ringfill.bpf.c
    private static final int RECORD_BYTES = (Native.BP_EVENT_SIZE() + 8 + 7) & ~7; // record + ring header

    private final Arena arena = Arena.ofShared();
    private final int stateFd;
    private final MemorySegment key;
    private final MemorySegment stateBuf;
    private final RingBuffer ring;
    private final MethodHandle fill;
    private final long ringSize;
    private final int pollMs;

    private static final class Sum implements RecordHandler {
        final EventView ev = new EventView();
        long sum;

        @Override
        public void onRecord(MemorySegment data, long offset, int length) {
            ev.wrap(data, offset);
            sum += ev.tsNanos() + ev.kindId();
        }
    }

    public static void main(String[] args) throws Throwable {
        String mode = "rate";
        Path obj = Path.of("build/bench/ringfill.bpf.o");
        Path lib = Path.of("build/bench/libringbench.so");
        long ring = 8 << 20;
        double seconds = 2;
        int rounds = 5;
        int pollMs = 2;
        long[] bursts = {250_000, 500_000, 1_000_000, 2_000_000, 4_000_000};
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--mode" -> mode = args[++i];
                case "--obj" -> obj = Path.of(args[++i]);
                case "--lib" -> lib = Path.of(args[++i]);
                case "--ring-size" -> ring = Long.parseLong(args[++i]);
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--poll-ms" -> pollMs = Integer.parseInt(args[++i]);
                case "--bursts" -> bursts = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        LiveRingBench b = new LiveRingBench(obj, lib, ring, pollMs);
        switch (mode) {
            case "rate" -> b.rate(seconds, rounds);
            case "burst" -> b.burst(bursts);
            default -> throw new IllegalArgumentException("mode is rate or burst: " + mode);
        }
    }

    private LiveRingBench(Path objPath, Path libPath, long ringSize, int pollMs) throws Throwable {
        this.ringSize = ringSize;
        this.pollMs = pollMs;
        byte[] elf = Files.readAllBytes(objPath);
        MemorySegment bytes = arena.allocate(elf.length, 8);
        MemorySegment.copy(elf, 0, bytes, ValueLayout.JAVA_BYTE, 0, elf.length);
        MemorySegment obj = Libbpf.openMem(bytes);
        MemorySegment rbMap = Native.bpf_object__find_map_by_name(obj, arena.allocateFrom("bench_rb"));
        Libbpf.check(Native.bpf_map__set_max_entries(rbMap, (int) ringSize), "bpf_map__set_max_entries");
        Libbpf.check(Native.bpf_object__load(obj), "bpf_object__load");
        int rbFd = Libbpf.check(Native.bpf_map__fd(rbMap), "bpf_map__fd(bench_rb)");
        stateFd = Libbpf.check(Native.bpf_map__fd(
                Native.bpf_object__find_map_by_name(obj, arena.allocateFrom("bench_state"))), "bpf_map__fd(bench_state)");
        key = arena.allocate(ValueLayout.JAVA_INT);
        stateBuf = arena.allocate(STATE_BYTES, 8);
        Libbpf.attach(Native.bpf_object__find_program_by_name(obj, arena.allocateFrom("bench_fill")), "bench_fill");
        SymbolLookup so = SymbolLookup.libraryLookup(libPath, arena);
        fill = Linker.nativeLinker().downcallHandle(so.findOrThrow("rb_fill"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        ring = RingBuffer.map(rbFd, ringSize);
    }

    /** Sets tgid, policy and watermark; zeroes seq and dropped. */
    private void setState(int policy) {
        stateBuf.fill((byte) 0);
        stateBuf.set(ValueLayout.JAVA_INT, 0, (int) ProcessHandle.current().pid());
        stateBuf.set(ValueLayout.JAVA_INT, 4, policy);
        stateBuf.set(ValueLayout.JAVA_LONG, 24, ringSize / 8); // the agent's default watermark: 1/8 of the ring
        Libbpf.check(Native.bpf_map_update_elem(stateFd, key, stateBuf, Native.BPF_ANY()), "bpf_map_update_elem");
    }

    private long[] seqDropped() {
        Libbpf.check(Native.bpf_map_lookup_elem(stateFd, key, stateBuf), "bpf_map_lookup_elem");
        return new long[] {stateBuf.get(ValueLayout.JAVA_LONG, 8), stateBuf.get(ValueLayout.JAVA_LONG, 16)};
    }

    private record Run(long produced, long dropped, long read, double seconds) {
        double rate() {
            return produced / seconds;
        }
    }

    /**
     * One producer run with the consumer polling: stops after {@code records}
     * records or {@code seconds}, whichever comes first.
     */
    private Run run(int policy, long records, double seconds) throws Throwable {
        ring.consume((d, o, l) -> { }); // start empty
        setState(policy);
        long readBefore = ring.recordsRead();
        Sum sum = new Sum();
        var stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread consumer = new Thread(() -> {
            // the agent's loop (Session.consume): gather while records flow, wait for the wakeup when empty
            long enough = policy == WATERMARK ? ringSize / 8 : 1;
            while (!stop.get()) {
                if (ring.consume(sum) > 0) {
                    ring.gather(pollMs, enough);
                } else {
                    ring.await(policy == NEVER ? pollMs : 250);
                }
            }
            ring.consume(sum);
        }, "consumer");
        consumer.start();
        long batch = 1000;
        long produced = 0;
        long t0 = System.nanoTime();
        long end = t0 + (long) (seconds * 1e9);
        while (produced < records && System.nanoTime() < end) {
            long n = Math.min(batch, records - produced);
            produced += (long) fill.invokeExact(n);
        }
        long t1 = System.nanoTime();
        stop.set(true);
        consumer.join();
        long[] sd = seqDropped();
        long read = ring.recordsRead() - readBefore;
        // seq counts reserved records only; every call either reserved or dropped
        if (sd[0] + sd[1] != produced || read != sd[0]) {
            throw new IllegalStateException(String.format(
                    "accounting: produced %d, committed %d, dropped %d, read %d", produced, sd[0], sd[1], read));
        }
        return new Run(produced, sd[1], read, (t1 - t0) / 1e9);
    }

    private void rate(double seconds, int rounds) throws Throwable {
        run(NEVER, Long.MAX_VALUE, Math.min(seconds, 1)); // warm-up: JIT, page faults of the ring
        List<List<Double>> rates = new ArrayList<>();
        List<List<Double>> ratios = new ArrayList<>();
        long[] dropped = new long[3];
        for (int p = 0; p < 3; p++) {
            rates.add(new ArrayList<>());
            ratios.add(new ArrayList<>());
        }
        for (int r = 0; r < rounds; r++) {
            double[] rr = new double[3];
            for (int k = 0; k < 3; k++) {
                int p = (r + k) % 3;
                Run run = run(p, Long.MAX_VALUE, seconds);
                rr[p] = run.rate();
                dropped[p] += run.dropped();
                System.err.printf(Locale.ROOT, "round %d %-9s %.2f Mrec/s dropped %d%n", r, POLICIES[p],
                        run.rate() / 1e6, run.dropped());
            }
            for (int p = 0; p < 3; p++) {
                rates.get(p).add(rr[p]);
                ratios.get(p).add(rr[p] / rr[NEVER]);
            }
        }
        System.out.printf(Locale.ROOT, "ring %d MiB, poll timeout %d ms, watermark %d KiB, %d rounds of %.1f s per "
                + "policy%n%n", ringSize >> 20, pollMs, ringSize / 8 >> 10, rounds, seconds);
        System.out.println("| wakeup policy | producer median Mrec/s | min | max | dropped | vs never (median of per-round ratios) |");
        System.out.println("|---|---:|---:|---:|---:|---:|");
        for (int p : new int[] {NEVER, WATERMARK, 1}) {
            double[] v = rates.get(p).stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf(Locale.ROOT, "| %s%s | %.2f | %.2f | %.2f | %d | %.3fx |%n", POLICIES[p],
                    p == WATERMARK ? " (default)" : "", median(v) / 1e6, v[0] / 1e6, v[v.length - 1] / 1e6, dropped[p],
                    median(ratios.get(p).stream().mapToDouble(Double::doubleValue).sorted().toArray()));
        }
        for (int p = 0; p < 3; p++) {
            System.out.printf(Locale.ROOT, "SUMMARY rate_%s=%.4f%n", POLICIES[p],
                    median(ratios.get(p).stream().mapToDouble(Double::doubleValue).sorted().toArray()));
            System.out.printf(Locale.ROOT, "SUMMARY drops_%s=%d%n", POLICIES[p], dropped[p]);
        }
    }

    private void burst(long[] bursts) throws Throwable {
        run(WATERMARK, 200_000, 1); // warm-up
        System.out.printf(Locale.ROOT, "ring %d MiB (%d records of %d bytes), watermark policy at %d KiB, poll "
                + "timeout %d ms%n%n", ringSize >> 20, ringSize / RECORD_BYTES, RECORD_BYTES, ringSize / 8 >> 10, pollMs);
        System.out.println("| burst records | took (s) | producer Mrec/s | dropped |");
        System.out.println("|---:|---:|---:|---:|");
        long largest = 0;
        boolean fitsSecond = true;
        for (long n : bursts) {
            Run run = run(WATERMARK, n, 10);
            System.out.printf(Locale.ROOT, "| %,d | %.3f | %.2f | %d |%n", n, run.seconds(), run.rate() / 1e6,
                    run.dropped());
            if (run.produced() < n) {
                throw new IllegalStateException("burst of " + n + " cut short at " + run.produced());
            }
            if (run.dropped() == 0 && run.seconds() <= 1.0) {
                largest = Math.max(largest, n);
            }
            if (run.seconds() > 1.0) {
                fitsSecond = false;
            }
        }
        System.out.printf(Locale.ROOT, "SUMMARY burst_largest=%d%n", largest);
        System.out.printf(Locale.ROOT, "SUMMARY burst_generator_bound=%d%n", fitsSecond ? 0 : 1);
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
}
