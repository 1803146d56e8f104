package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_endpoint_key;
import io.busprobe.bindings.bp_endpoint_name;
import io.busprobe.bindings.bp_endpoint_stats;
import io.busprobe.bindings.bp_peer_key;
import io.busprobe.bindings.bp_peer_stats;
import io.busprobe.bindings.bp_proc_key;
import io.busprobe.bindings.bp_proc_stats;
import io.busprobe.event.Addresses;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.endpoint.LpmEntry;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The bus-endpoint maps: the rules the kernel matches sockets against
 * ({@code endpoints}, an LPM trie, and {@code endpoints_gen}, the generation
 * that tells the kernel its per-socket matches are stale), the names the CLI shows
 * ({@code endpoint_names}), and the exact per-endpoint counters and
 * worst-offender tables the probes fill.
 *
 * {@snippet :
 * EndpointMaps maps = bpf.endpointMaps();
 * maps.install(EndpointConfig.defaults());
 * EndpointMaps.Totals t = maps.totals(1, Direction.CLIENT);
 * }
 */
public final class EndpointMaps implements AutoCloseable {
    public static final String ENDPOINTS = "endpoints";
    public static final String NAMES = "endpoint_names";
    public static final String STATS = "endpoint_stats";
    public static final String PROCS = "endpoint_procs";
    public static final String PEERS = "endpoint_peers";
    /** BPF-only: bumped after each rule change; not pinned, only the daemon installs rules. */
    public static final String RULES_GEN = "endpoints_gen";
    /** BPF-only: the ports some rule names, a bit each (bpf/endpoint.bpf.h); not pinned either. */
    public static final String PORTS = "endpoint_ports";
    /** The port set's words: BP_PORT_WORDS in bpf/endpoint.bpf.h. */
    static final int PORT_WORDS = 65536 / Long.SIZE;
    public static final String[] ALL = {ENDPOINTS, NAMES, STATS, PROCS, PEERS};
    public static final int MAX_ENDPOINTS = Native.BP_MAX_ENDPOINTS();
    public static final int DIRS = Native.BP_DIRS();
    public static final int LIFETIME_SLOTS = Native.BP_LIFETIME_SLOTS();
    public static final int RETRANS_KINDS = Native.BP_RETRANS_KINDS();

    private final int rules;
    private final int names;
    private final int stats;
    private final int procs;
    private final int peers;
    private final int rulesGen;
    private final int ports;
    private final boolean ownsFds;
    private final List<LpmEntry> installed = new ArrayList<>();
    private long[] installedPorts = new long[PORT_WORDS];

    public EndpointMaps(int rules, int rulesGen, int ports, int names, int stats, int procs, int peers) {
        this(rules, rulesGen, ports, names, stats, procs, peers, false);
    }

    private EndpointMaps(int rules, int rulesGen, int ports, int names, int stats, int procs, int peers,
            boolean ownsFds) {
        this.rules = rules;
        this.rulesGen = rulesGen;
        this.ports = ports;
        this.names = names;
        this.stats = stats;
        this.procs = procs;
        this.peers = peers;
        this.ownsFds = ownsFds;
    }

    /** The maps a running daemon pinned under {@code dir}. */
    public static EndpointMaps openPinned(Path dir) {
        int[] fds = Pins.open(dir, ALL);
        return new EndpointMaps(fds[0], -1, -1, fds[1], fds[2], fds[3], fds[4], true);
    }

    /**
     * Replace the rules and names with {@code config}'s. New rules go in before
     * stale ones go out, so no socket is briefly unmatched during a reload; then
     * the generation moves on, so each socket's cached match is redone on its
     * next event that needs it. The port set holds the ports of both the old and
     * the new rules while both may be in the trie: a port leaves it only after its
     * last rule did.
     */
    public void install(EndpointConfig config) {
        if (rulesGen < 0 || ports < 0) {
            throw new IllegalStateException("endpoint rules are installed by the daemon's own maps, not pinned ones");
        }
        List<LpmEntry> next = config.lpmEntries();
        long[] nextPorts = portSet(next);
        long[] both = installedPorts.clone();
        for (int w = 0; w < PORT_WORDS; w++) {
            both[w] |= nextPorts[w];
        }
        try (Arena a = Arena.ofConfined()) {
            writePorts(a, installedPorts, both);
            installedPorts = both;
            MemorySegment key = bp_endpoint_key.allocate(a);
            MemorySegment value = a.allocate(ValueLayout.JAVA_INT);
            for (LpmEntry e : next) {
                writeKey(key, e);
                value.set(ValueLayout.JAVA_INT, 0, e.endpointId());
                Libbpf.check(Native.bpf_map_update_elem(rules, key, value, Native.BPF_ANY()),
                        "bpf_map_update_elem(endpoints)");
            }
            for (LpmEntry old : installed) {
                if (next.stream().noneMatch(n -> n.prefixLen() == old.prefixLen()
                        && java.util.Arrays.equals(n.data(), old.data()))) {
                    writeKey(key, old);
                    int rc = Native.bpf_map_delete_elem(rules, key);
                    if (rc < 0 && -rc != Errno.ENOENT) {
                        Libbpf.check(rc, "bpf_map_delete_elem(endpoints)");
                    }
                }
            }
            writePorts(a, installedPorts, nextPorts);
            installedPorts = nextPorts;
            bumpRulesGen(a);
            MemorySegment idx = a.allocate(ValueLayout.JAVA_INT);
            MemorySegment name = bp_endpoint_name.allocate(a);
            for (int id = 0; id < MAX_ENDPOINTS; id++) {
                name.fill((byte) 0);
                String label = id == Endpoint.OTHER_ID ? Endpoint.OTHER_NAME
                        : config.byId(id).map(Endpoint::name).orElse("");
                int bus = id == 0 ? 0 : config.byId(id).map(ep -> ep.bus().id()).orElse(0);
                byte[] b = label.getBytes(StandardCharsets.UTF_8);
                MemorySegment.copy(b, 0, name, ValueLayout.JAVA_BYTE, bp_endpoint_name.name$offset(),
                        Math.min(b.length, 32)); // names are at most 32 ASCII bytes; no NUL needed at 32
                bp_endpoint_name.bus(name, bus);
                idx.set(ValueLayout.JAVA_INT, 0, id);
                Libbpf.check(Native.bpf_map_update_elem(names, idx, name, Native.BPF_ANY()),
                        "bpf_map_update_elem(endpoint_names)");
            }
        }
        installed.clear();
        installed.addAll(next);
    }

    /** The port set of {@code entries}: bit {@code port % 64} of word {@code port / 64} for each entry's port. */
    static long[] portSet(List<LpmEntry> entries) {
        long[] words = new long[PORT_WORDS];
        for (LpmEntry e : entries) {
            words[e.port() >>> 6] |= 1L << (e.port() & 63);
        }
        return words;
    }

    /** Writes the words of the port set that differ between {@code was} (the kernel's now) and {@code now}. */
    private void writePorts(Arena a, long[] was, long[] now) {
        MemorySegment word = a.allocate(ValueLayout.JAVA_INT);
        MemorySegment bits = a.allocate(ValueLayout.JAVA_LONG);
        for (int w = 0; w < PORT_WORDS; w++) {
            if (was[w] != now[w]) {
                word.set(ValueLayout.JAVA_INT, 0, w);
                bits.set(ValueLayout.JAVA_LONG, 0, now[w]);
                Libbpf.check(Native.bpf_map_update_elem(ports, word, bits, Native.BPF_ANY()),
                        "bpf_map_update_elem(" + PORTS + ")");
            }
        }
    }

    /** One writer (the daemon), so a read and a write are enough. */
    private void bumpRulesGen(Arena a) {
        MemorySegment zero = a.allocateFrom(ValueLayout.JAVA_INT, 0);
        MemorySegment gen = a.allocate(ValueLayout.JAVA_INT);
        Libbpf.check(Native.bpf_map_lookup_elem(rulesGen, zero, gen), "bpf_map_lookup_elem(endpoints_gen)");
        gen.set(ValueLayout.JAVA_INT, 0, gen.get(ValueLayout.JAVA_INT, 0) + 1);
        Libbpf.check(Native.bpf_map_update_elem(rulesGen, zero, gen, Native.BPF_ANY()), "bpf_map_update_elem(endpoints_gen)");
    }

    private static void writeKey(MemorySegment key, LpmEntry e) {
        key.fill((byte) 0);
        bp_endpoint_key.prefixlen(key, e.prefixLen());
        MemorySegment.copy(e.data(), 0, key, ValueLayout.JAVA_BYTE, bp_endpoint_key.data$offset(), e.data().length);
    }

    /** An endpoint's name and bus type id as the daemon published them; empty name when unused. */
    public record Name(int id, String name, int bus) {
    }

    public List<Name> names() {
        List<Name> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment idx = a.allocate(ValueLayout.JAVA_INT);
            MemorySegment v = bp_endpoint_name.allocate(a);
            for (int id = 0; id < MAX_ENDPOINTS; id++) {
                idx.set(ValueLayout.JAVA_INT, 0, id);
                Libbpf.check(Native.bpf_map_lookup_elem(names, idx, v), "bpf_map_lookup_elem(endpoint_names)");
                out.add(new Name(id, cString(v.asSlice(bp_endpoint_name.name$offset(), 32)), bp_endpoint_name.bus(v)));
            }
        }
        return out;
    }

    /**
     * Exact traffic of one endpoint and direction, summed over CPUs.
     * {@code retransTriggerSegs} splits {@code retransSegs} by {@code enum bp_retrans_kind}.
     */
    public record Totals(long connOpened, long connClosed, long connFailed, long bytesSent, long bytesReceived,
                         long segsOut, long segsIn, long retransSegs, long resetsSent, long resetsReceived,
                         long pressure, long[] lifetimeUsLog2, long[] retransTriggerSegs) {
        /** Retransmitted segments per segment sent: the headline ratio. */
        public double retransRatio() {
            return segsOut == 0 ? 0 : (double) retransSegs / segsOut;
        }

        public Totals minus(Totals o) {
            long[] life = new long[lifetimeUsLog2.length];
            for (int i = 0; i < life.length; i++) {
                life[i] = lifetimeUsLog2[i] - o.lifetimeUsLog2[i];
            }
            long[] triggers = new long[retransTriggerSegs.length];
            for (int i = 0; i < triggers.length; i++) {
                triggers[i] = retransTriggerSegs[i] - o.retransTriggerSegs[i];
            }
            return new Totals(connOpened - o.connOpened, connClosed - o.connClosed, connFailed - o.connFailed,
                    bytesSent - o.bytesSent, bytesReceived - o.bytesReceived, segsOut - o.segsOut, segsIn - o.segsIn,
                    retransSegs - o.retransSegs, resetsSent - o.resetsSent, resetsReceived - o.resetsReceived,
                    pressure - o.pressure, life, triggers);
        }

        public boolean isZero() {
            return connOpened == 0 && connClosed == 0 && connFailed == 0 && segsOut == 0 && segsIn == 0
                    && retransSegs == 0 && resetsSent == 0 && resetsReceived == 0 && pressure == 0;
        }
    }

    /** The {@code endpoint_stats} key of an endpoint and direction. */
    public static int key(int endpoint, Direction direction) {
        return endpoint * DIRS + direction.id();
    }

    public Totals totals(int endpoint, Direction direction) {
        long[] f = new long[11];
        long[] life = new long[LIFETIME_SLOTS];
        long[] triggers = new long[RETRANS_KINDS];
        PerCpu.forEachCpu(stats, STATS, key(endpoint, direction), bp_endpoint_stats.layout(), v -> {
            f[0] += bp_endpoint_stats.conn_opened(v);
            f[1] += bp_endpoint_stats.conn_closed(v);
            f[2] += bp_endpoint_stats.conn_failed(v);
            f[3] += bp_endpoint_stats.bytes_sent(v);
            f[4] += bp_endpoint_stats.bytes_received(v);
            f[5] += bp_endpoint_stats.segs_out(v);
            f[6] += bp_endpoint_stats.segs_in(v);
            f[7] += bp_endpoint_stats.retrans_segs(v);
            f[8] += bp_endpoint_stats.resets_sent(v);
            f[9] += bp_endpoint_stats.resets_received(v);
            f[10] += bp_endpoint_stats.pressure(v);
            for (int i = 0; i < LIFETIME_SLOTS; i++) {
                life[i] += bp_endpoint_stats.lifetime_us_log2(v, i);
            }
            for (int i = 0; i < RETRANS_KINDS; i++) {
                triggers[i] += bp_endpoint_stats.retrans_trigger_segs(v, i);
            }
        });
        return new Totals(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], life, triggers);
    }

    /** One row of a worst-offender table. */
    public record Offender(int endpoint, Direction direction, String who, long retransSegs, long resets) {
    }

    /** Processes charged with retransmits or resets, per endpoint. */
    public List<Offender> processes() {
        return offenders(procs, bp_proc_key.layout().byteSize(), bp_proc_stats.layout().byteSize(), (key, v) ->
                new Offender(Short.toUnsignedInt(bp_proc_key.endpoint(key)), Direction.ofId(bp_proc_key.direction(key)),
                        bp_proc_key.tgid(key) + "/" + cString(v.asSlice(bp_proc_stats.comm$offset(), 16)),
                        bp_proc_stats.retrans_segs(v), bp_proc_stats.resets(v)));
    }

    /** Remote addresses charged with retransmits or resets, per endpoint. */
    public List<Offender> peers() {
        return offenders(peers, bp_peer_key.layout().byteSize(), bp_peer_stats.layout().byteSize(), (key, v) -> {
            int family = Byte.toUnsignedInt(bp_peer_key.family(key));
            byte[] addr = new byte[family == 10 ? 16 : 4];
            MemorySegment.copy(key, ValueLayout.JAVA_BYTE, bp_peer_key.addr$offset(), addr, 0, addr.length);
            String who = Addresses.text(family, addr);
            return new Offender(Short.toUnsignedInt(bp_peer_key.endpoint(key)),
                    Direction.ofId(bp_peer_key.direction(key)), who, bp_peer_stats.retrans_segs(v),
                    bp_peer_stats.resets(v));
        });
    }

    /** Walk a hash map with get_next_key; an entry evicted between the two calls is skipped. */
    private static List<Offender> offenders(int fd, long keySize, long valueSize,
                                            java.util.function.BiFunction<MemorySegment, MemorySegment, Offender> row) {
        List<Offender> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(keySize, 8);
            MemorySegment next = a.allocate(keySize, 8);
            MemorySegment v = a.allocate(valueSize, 8);
            MemorySegment cur = MemorySegment.NULL;
            while (Native.bpf_map_get_next_key(fd, cur, next) == 0) {
                MemorySegment.copy(next, 0, key, 0, keySize);
                cur = key;
                if (Native.bpf_map_lookup_elem(fd, key, v) == 0) {
                    out.add(row.apply(key, v));
                }
            }
        }
        return out;
    }

    private static String cString(MemorySegment s) {
        int n = 0;
        while (n < s.byteSize() && s.get(ValueLayout.JAVA_BYTE, n) != 0) {
            n++;
        }
        byte[] b = new byte[n];
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, 0, b, 0, n);
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        if (ownsFds) {
            Pins.close(rules, names, stats, procs, peers);
        }
    }
}
