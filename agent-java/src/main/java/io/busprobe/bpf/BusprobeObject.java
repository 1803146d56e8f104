package io.busprobe.bpf;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_drop_loss;
import io.busprobe.bindings.bp_sample_cfg;
import io.busprobe.bindings.bpf_map_info;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.ffi.Errno;
import io.busprobe.ffi.HostProblem;
import io.busprobe.ffi.Libbpf;
import io.busprobe.ffi.NativeException;
import io.busprobe.ffi.Sys;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.Pins;
import io.busprobe.maps.SocketTable;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The busprobe BPF object (bpf/*.bpf.c linked into busprobe.bpf.o and embedded
 * in the jar), through its lifecycle: {@link #open} → configure
 * ({@link #ringSize}, {@link #families}) → {@link #load} → {@link #attach} →
 * {@link #close}, which releases in reverse order.
 *
 * <p>A probe whose tracepoint this kernel lacks is not loaded (tp_btf programs
 * fail at load, not attach, when their hook is missing) and reported as
 * {@link ProbeStatus.State#MISSING_TRACEPOINT}; the others run.
 *
 * {@snippet :
 * try (BusprobeObject bpf = BusprobeObject.open()) {
 *     bpf.ringSize(8 << 20).families(EnumSet.allOf(Family.class));
 *     bpf.load();
 *     bpf.attach().forEach(System.out::println);
 *     ... RingBuffer.map(bpf.ringFd(), bpf.ringSize()) ...
 * }
 * }
 */
public final class BusprobeObject implements AutoCloseable {
    private static final String RESOURCE = "busprobe.bpf.o";

    private enum Phase { OPEN, LOADED, ATTACHED, CLOSED }

    private final Arena arena = Arena.ofShared();
    private final MemorySegment obj;
    private final Deque<MemorySegment> links = new ArrayDeque<>();
    private MemorySegment iteratorLink;
    private final Map<Probe, ProbeStatus> status = new EnumMap<>(Probe.class);
    private Set<Family> families = EnumSet.allOf(Family.class);
    private long ringSize = 8L << 20;
    private int socketTableSize = SocketTable.DEFAULT_SIZE;
    private Set<Probe> absent = EnumSet.noneOf(Probe.class);
    private Phase phase = Phase.OPEN;
    private int ringFd = -1;
    private ControlMaps control;
    private EndpointMaps endpointMaps;
    private TopicMaps topicMaps;
    private TopicSubscribers topicSubscribers;
    private DropStats dropStats;
    private Path pinDir;
    private boolean reuseConfig;
    private boolean configReused;
    /** Pinned config maps this object took over as they are (their pins stay). */
    private final Set<String> reusedPins = new java.util.HashSet<>();
    /** An operator sampling map of another size, to copy from after load; -1 when none. */
    private int migrateFd = -1;
    private String configMigration;

    private BusprobeObject(byte[] elf) {
        MemorySegment bytes = arena.allocate(elf.length, 8);
        MemorySegment.copy(elf, 0, bytes, ValueLayout.JAVA_BYTE, 0, elf.length);
        try {
            obj = Libbpf.openMem(bytes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Open the object embedded in the agent jar, or the file named by
     * {@code $BUSPROBE_BPF_OBJECT} (benchmarks compare variants that way).
     */
    public static BusprobeObject open() {
        String override = System.getenv("BUSPROBE_BPF_OBJECT");
        if (override != null && !override.isBlank()) {
            try {
                return new BusprobeObject(java.nio.file.Files.readAllBytes(Path.of(override)));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read BUSPROBE_BPF_OBJECT=" + override + ": " + e.getMessage(), e);
            }
        }
        try (InputStream in = BusprobeObject.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the classpath: build with `make build`");
            }
            return new BusprobeObject(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- configure -------------------------------------------------------

    /** Ring buffer data size in bytes: a power of two, at least one page. */
    public BusprobeObject ringSize(long bytes) {
        requirePhase(Phase.OPEN, "ringSize");
        if (Long.bitCount(bytes) != 1 || bytes < 4096 || bytes > (1L << 30)) {
            throw new IllegalArgumentException("ring size must be a power of two between 4K and 1G: " + bytes);
        }
        ringSize = bytes;
        return this;
    }

    public long ringSize() {
        return ringSize;
    }

    /**
     * Size of the socket table, where sockets' owners and endpoint matches are kept: slots
     * ({@code sock_slots}, this rounded down to a power of two) and as many LRU entries
     * ({@code sock_info}) for the sockets whose slot another holds. More such sockets than this evict
     * the least recently used (counted, see {@link #socketTableEvictions}), which costs attribution,
     * never a count.
     */
    public BusprobeObject socketTableSize(int entries) {
        requirePhase(Phase.OPEN, "socketTableSize");
        if (entries < SocketTable.MIN_SIZE || entries > SocketTable.MAX_SIZE) {
            throw new IllegalArgumentException("socket table size must be between " + SocketTable.MIN_SIZE + " and "
                    + SocketTable.MAX_SIZE + ": " + entries);
        }
        socketTableSize = entries;
        return this;
    }

    public int socketTableSize() {
        return socketTableSize;
    }

    /** Probe families to load; the others stay out of the kernel. */
    public BusprobeObject families(Set<Family> selected) {
        requirePhase(Phase.OPEN, "families");
        families = selected.isEmpty() ? EnumSet.noneOf(Family.class) : EnumSet.copyOf(selected);
        return this;
    }

    /**
     * Treat these probes' hooks as missing from the running kernel: load() looks
     * them up under a name no kernel has, so the real missing-hook path runs
     * (skipped at load, reported, the rest attached). For tests of partial attach.
     */
    public BusprobeObject absent(Set<Probe> probes) {
        requirePhase(Phase.OPEN, "absent");
        absent = probes.isEmpty() ? EnumSet.noneOf(Probe.class) : EnumSet.copyOf(probes);
        return this;
    }

    /**
     * Pin the control and counter maps under {@code dir} after load, so that
     * {@code busprobe sample}/{@code status} reach them without the daemon. With
     * {@code reuseConfig}, an operator config pinned by an earlier daemon
     * ({@code sampling}, {@code settings}) is taken over as it is.
     */
    public BusprobeObject pin(Path dir, boolean reuseConfig) {
        requirePhase(Phase.OPEN, "pin");
        this.pinDir = dir;
        this.reuseConfig = reuseConfig;
        return this;
    }

    /** Whether load() took over a pinned operator config instead of writing defaults. */
    public boolean configReused() {
        return configReused;
    }

    /**
     * What load() did to take over a pinned sampling config made for another number
     * of kinds (an older or newer busprobe), as one line for the log; null when the
     * pinned config fitted as it was or none was taken over.
     */
    public String configMigration() {
        return configMigration;
    }

    // ---- load ------------------------------------------------------------

    /**
     * Decide which programs load, size the ring, load into the kernel and
     * write initial sampling settings (every selected kind on, 1-in-1).
     */
    public void load() {
        requirePhase(Phase.OPEN, "load");
        MemorySegment btf = Libbpf.loadVmlinuxBtf();
        try {
            for (Probe p : Probe.values()) {
                MemorySegment prog = program(p);
                // the state family is where owners and endpoints are learned: always loaded,
                // and only its records follow the selection (see below)
                boolean selected = families.contains(p.family()) || (p.family() == Family.STATE && !families.isEmpty());
                boolean present = selected && tracepointExists(btf, p, absent.contains(p));
                Libbpf.check(Native.bpf_program__set_autoload(prog, selected && present), "bpf_program__set_autoload");
                if (!selected) {
                    status.put(p, new ProbeStatus(p, ProbeStatus.State.NOT_SELECTED, ""));
                } else if (!present) {
                    status.put(p, new ProbeStatus(p, ProbeStatus.State.MISSING_TRACEPOINT,
                            p.isClassic() ? (Tracefs.mountFailure() != null ? Tracefs.mountFailure()
                                    : "no " + p.tracepoint() + " in tracefs (CONFIG_FTRACE_SYSCALLS)")
                                    : "no " + p.btfTypedef() + " in kernel BTF"));
                }
            }
        } finally {
            Native.btf__free(btf);
        }
        Libbpf.check(Native.bpf_map__set_max_entries(map("rb"), (int) ringSize), "bpf_map__set_max_entries(rb)");
        Libbpf.check(Native.bpf_map__set_max_entries(map(SocketTable.MAP), socketTableSize),
                "bpf_map__set_max_entries(" + SocketTable.MAP + ")");
        Libbpf.check(Native.bpf_map__set_max_entries(map(SocketTable.SLOTS), SocketTable.slots(socketTableSize)),
                "bpf_map__set_max_entries(" + SocketTable.SLOTS + ")");
        if (pinDir != null && reuseConfig) {
            // both or neither: half an old config next to half a default one would be silent nonsense
            if (Files.exists(pinDir.resolve(ControlMaps.SAMPLING)) && Files.exists(pinDir.resolve(ControlMaps.SETTINGS))) {
                migrateFd = samplingOfAnotherSize();
                configReused = (migrateFd >= 0 || reusePinned(ControlMaps.SAMPLING)) & reusePinned(ControlMaps.SETTINGS);
            }
        }
        try {
            Libbpf.check(Native.bpf_object__load(obj), "bpf_object__load");
        } catch (NativeException e) {
            closeMigrateFd();
            throw loadFailure(e, configReused ? pinDir : null);
        }
        phase = Phase.LOADED;
        ringFd = mapFd("rb");
        control = new ControlMaps(mapFd(ControlMaps.SAMPLING), mapFd(ControlMaps.SAMPLING_AUTO),
                mapFd(ControlMaps.SETTINGS), mapFd(ControlMaps.KIND_STATS), mapFd(ControlMaps.AGENT_STATE));
        topicMaps = new TopicMaps(mapFd(TopicMaps.STATS), mapFd(TopicMaps.OTHER), mapFd(TopicMaps.NAMES),
                mapFd(TopicMaps.IDS_ADDED));
        topicSubscribers = new TopicSubscribers(mapFd(TopicSubscribers.MAP));
        endpointMaps = new EndpointMaps(mapFd(EndpointMaps.ENDPOINTS), mapFd(EndpointMaps.RULES_GEN),
                mapFd(EndpointMaps.PORTS), mapFd(EndpointMaps.NAMES), mapFd(EndpointMaps.STATS), mapFd(EndpointMaps.PROCS),
                mapFd(EndpointMaps.PEERS));
        dropStats = DropStats.map(mapFd(DropStats.MAP));
        writeDropLoss();
        writeListenSite();
        if (migrateFd >= 0) {
            migrateSampling();
        }
        for (Probe p : Probe.values()) {
            for (EventKind k : p.learnsOnly() ? List.<EventKind>of() : p.kinds()) {
                // a kept config keeps every kind it has; a kind appended since starts from defaults
                if (!configReused || samplingUnwritten(k)) {
                    control.sampling(k, SampleSetting.DEFAULT.withEnabled(status.get(p) == null
                            && families.contains(p.family())));
                }
            }
        }
        if (!configReused) {
            control.settings(Settings.defaults(ringSize));
        } else {
            // what was derived from the ring of the daemon that pinned it is derived again for this ring
            Settings kept = control.settings();
            Settings run = kept.forRing(ringSize);
            if (!run.equals(kept)) {
                control.settings(run);
                if (kept.watermarkSet()) {
                    String line = "the wakeup watermark " + kept.watermark() + " pinned in " + pinDir + " does not "
                            + "fit a ring of " + ringSize + " bytes: using 1/8 of the ring, " + run.watermark();
                    configMigration = configMigration == null ? line : configMigration + "; " + line;
                }
            }
        }
        if (pinDir != null) {
            pinAll();
        }
    }

    /**
     * Tell the kernel which drop reasons are losses ({@code drop_loss}, see BP_DROP_LOSS_WORDS),
     * from the one list there is ({@link DropReasons#NOT_LOSSES}): only a loss is remembered as
     * the cause of a retransmit.
     */
    private void writeDropLoss() {
        DropReasons reasons = DropReasons.running();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bits = a.allocate(bp_drop_loss.layout());
            for (int slot = 0; slot < DropStats.SLOTS; slot++) {
                if (reasons.slotLoss(slot)) {
                    long word = bits.getAtIndex(ValueLayout.JAVA_LONG, slot / 64);
                    bits.setAtIndex(ValueLayout.JAVA_LONG, slot / 64, word | (1L << (slot % 64)));
                }
            }
            Libbpf.check(Native.bpf_map_update_elem(mapFd(DROP_LOSS_MAP), a.allocateFrom(ValueLayout.JAVA_INT, 0), bits,
                    Native.BPF_ANY()), "bpf_map_update_elem(" + DROP_LOSS_MAP + ")");
        }
    }

    private static final String DROP_LOSS_MAP = "drop_loss";

    /**
     * Tell handle_consume_skb where tcp_rcv_state_process() lies in kernel text ({@code listen_site}):
     * from its address in /proc/kallsyms to the next symbol's. Without it (kallsyms hidden) the
     * listen-queue overflows of the SYN path stay uncounted ({@link #listenSiteKnown} says which).
     */
    private void writeListenSite() {
        long[] site = KernelSymbols.extent("tcp_rcv_state_process");
        listenSiteKnown = site != null;
        if (site == null) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = a.allocate(ValueLayout.JAVA_LONG, 2);
            value.setAtIndex(ValueLayout.JAVA_LONG, 0, site[0]);
            value.setAtIndex(ValueLayout.JAVA_LONG, 1, site[1]);
            Libbpf.check(Native.bpf_map_update_elem(mapFd(LISTEN_SITE_MAP), a.allocateFrom(ValueLayout.JAVA_INT, 0),
                    value, Native.BPF_ANY()), "bpf_map_update_elem(" + LISTEN_SITE_MAP + ")");
        }
    }

    private static final String LISTEN_SITE_MAP = "listen_site";
    private boolean listenSiteKnown;

    /** Whether the SYN-path listen overflows are counted: kallsyms named tcp_rcv_state_process. */
    public boolean listenSiteKnown() {
        return listenSiteKnown;
    }

    /** Point a map at the pinned one of the same name, if there is one; true when reused. */
    private boolean reusePinned(String name) {
        Path pin = pinDir.resolve(name);
        if (!Files.exists(pin)) {
            return false;
        }
        int fd = Pins.objGet(pin);
        try {
            Libbpf.check(Native.bpf_map__reuse_fd(map(name), fd), "bpf_map__reuse_fd(" + name + ")");
        } finally {
            Sys.close(fd); // libbpf keeps its own dup
        }
        reusedPins.add(name);
        return true;
    }

    /**
     * The pinned operator sampling map when it is one of ours made for another number
     * of kinds (BP_KIND_MAX changed between the daemon that pinned it and this one):
     * its fd, to be copied from after load, since libbpf cannot reuse a map of
     * another size. -1 when it fits as it is, or is no such map at all (then reusing
     * it fails at load and says so).
     */
    private int samplingOfAnotherSize() {
        int fd = Pins.objGet(pinDir.resolve(ControlMaps.SAMPLING));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = bpf_map_info.allocate(a);
            MemorySegment len = a.allocateFrom(ValueLayout.JAVA_INT, (int) info.byteSize());
            Libbpf.check(Native.bpf_obj_get_info_by_fd(fd, info, len), "bpf_obj_get_info_by_fd(" + ControlMaps.SAMPLING + ")");
            boolean ours = bpf_map_info.type(info) == Native.BPF_MAP_TYPE_ARRAY() && bpf_map_info.key_size(info) == 4
                    && bpf_map_info.value_size(info) == bp_sample_cfg.layout().byteSize();
            if (ours && bpf_map_info.max_entries(info) != Native.bpf_map__max_entries(map(ControlMaps.SAMPLING))) {
                int keep = fd;
                fd = -1;
                return keep;
            }
            return -1;
        } finally {
            if (fd >= 0) {
                Sys.close(fd);
            }
        }
    }

    /**
     * Whether no daemon ever wrote {@code kind}'s slot of the sampling map: it is all
     * zeros, which no written setting is (every and burst are at least 1). So it is a
     * kind appended to events.h after the config was pinned, within BP_KIND_MAX.
     */
    private boolean samplingUnwritten(EventKind kind) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment value = bp_sample_cfg.allocate(a);
            Libbpf.check(Native.bpf_map_lookup_elem(mapFd(ControlMaps.SAMPLING),
                    a.allocateFrom(ValueLayout.JAVA_INT, kind.id()), value), "bpf_map_lookup_elem(sampling)");
            return value.mismatch(bp_sample_cfg.allocate(a)) < 0;
        }
    }

    /**
     * Copy the kinds both sizes know from the pinned sampling map into this object's
     * (kind ids are appended, never renumbered, so id i means the same kind in both);
     * its pin is replaced by pinAll().
     */
    private void migrateSampling() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = bpf_map_info.allocate(a);
            MemorySegment len = a.allocateFrom(ValueLayout.JAVA_INT, (int) info.byteSize());
            Libbpf.check(Native.bpf_obj_get_info_by_fd(migrateFd, info, len), "bpf_obj_get_info_by_fd(" + ControlMaps.SAMPLING + ")");
            int pinned = bpf_map_info.max_entries(info);
            int kept = Math.min(pinned, EventKind.MAX);
            int to = mapFd(ControlMaps.SAMPLING);
            MemorySegment key = a.allocate(ValueLayout.JAVA_INT);
            MemorySegment value = bp_sample_cfg.allocate(a);
            for (int i = 0; i < kept; i++) {
                key.set(ValueLayout.JAVA_INT, 0, i);
                Libbpf.check(Native.bpf_map_lookup_elem(migrateFd, key, value), "bpf_map_lookup_elem(pinned sampling)");
                Libbpf.check(Native.bpf_map_update_elem(to, key, value, Native.BPF_ANY()), "bpf_map_update_elem(sampling)");
            }
            configMigration = "the sampling config pinned in " + pinDir + " was made for " + pinned + " kinds, this "
                    + "busprobe has " + EventKind.MAX + ": the settings of the " + kept + " both know were kept, "
                    + (pinned < EventKind.MAX ? "the new kinds start from defaults" : "the rest were dropped");
        } finally {
            closeMigrateFd();
        }
    }

    private void closeMigrateFd() {
        if (migrateFd >= 0) {
            Sys.close(migrateFd);
            migrateFd = -1;
        }
    }

    private void pinAll() {
        PinDir.prepare(pinDir);
        for (String name : PINNED) {
            if (reusedPins.contains(name)) {
                continue; // already pinned there: it is the very map we reused
            }
            Path pin = pinDir.resolve(name);
            try {
                Files.deleteIfExists(pin); // a stale pin of a previous daemon
            } catch (java.io.IOException e) {
                throw new UncheckedIOException("cannot replace " + pin, e);
            }
            try (Arena a = Arena.ofConfined()) {
                Libbpf.check(Native.bpf_map__pin(map(name), a.allocateFrom(pin.toString())),
                        "bpf_map__pin(" + pin + ")");
            }
        }
    }

    /** Maps that live while the daemon lives; unpinned on close. */
    private static final String[] RUNTIME = {ControlMaps.SAMPLING_AUTO, ControlMaps.KIND_STATS, ControlMaps.AGENT_STATE,
        EndpointMaps.ENDPOINTS, EndpointMaps.NAMES, EndpointMaps.STATS, EndpointMaps.PROCS, EndpointMaps.PEERS,
        TopicMaps.STATS, TopicMaps.OTHER, TopicMaps.NAMES, TopicSubscribers.MAP, DropStats.MAP, SocketTable.EVICTIONS};
    private static final String[] PINNED = {ControlMaps.SAMPLING, ControlMaps.SETTINGS, ControlMaps.SAMPLING_AUTO,
        ControlMaps.KIND_STATS, ControlMaps.AGENT_STATE, EndpointMaps.ENDPOINTS, EndpointMaps.NAMES,
        EndpointMaps.STATS, EndpointMaps.PROCS, EndpointMaps.PEERS, TopicMaps.STATS, TopicMaps.OTHER, TopicMaps.NAMES,
        TopicSubscribers.MAP, DropStats.MAP, SocketTable.EVICTIONS};

    private static boolean tracepointExists(MemorySegment btf, Probe p, boolean pretendAbsent) {
        String suffix = pretendAbsent ? "__busprobe_absent" : "";
        try (Arena a = Arena.ofConfined()) {
            if (p.isClassic()) {
                return Tracefs.exists(p.tracefsPath() + suffix);
            }
            int kind = p.isIterator() ? Native.BTF_KIND_FUNC() : Native.BTF_KIND_TYPEDEF();
            return Native.btf__find_by_name_kind(btf, a.allocateFrom(p.btfTypedef() + suffix), kind) > 0;
        }
    }

    // ---- attach ----------------------------------------------------------

    /**
     * Attach every loaded program. A failure is recorded for that probe and the
     * rest still attach; it is an error only when nothing attached at all.
     */
    public List<ProbeStatus> attach() {
        requirePhase(Phase.LOADED, "attach");
        phase = Phase.ATTACHED;
        for (Probe p : Probe.values()) {
            if (status.containsKey(p)) {
                continue;
            }
            try {
                MemorySegment link = Libbpf.attach(program(p), p.program());
                links.push(link);
                if (p.isIterator()) {
                    iteratorLink = link;
                }
                status.put(p, new ProbeStatus(p, ProbeStatus.State.ATTACHED, ""));
            } catch (NativeException e) {
                status.put(p, new ProbeStatus(p, ProbeStatus.State.FAILED, e.getMessage()));
            }
        }
        List<ProbeStatus> all = probeStatus();
        if (all.stream().noneMatch(ProbeStatus::attached)) {
            throw new IllegalStateException("no busprobe probe could attach: " + all);
        }
        seedConnections();
        return all;
    }

    /**
     * Count the connections already open as opened (seed_connection in bpf/tcp_state.bpf.c),
     * after the state probe attached so that none falls between the two: live = opened -
     * closed holds from the first scrape after a start. A namespace that cannot be entered is
     * in the result of this refresh as of every later one, which the daemon reports.
     */
    private void seedConnections() {
        if (iteratorLink == null) {
            return;
        }
        setSeeding(1);
        try {
            refreshTraffic(true, false);
        } finally {
            setSeeding(0);
            namespaces = null; // the first refresh looks again: processes start in new namespaces at start-up too
        }
    }

    /**
     * What a failed {@code bpf_object__load} tells the operator. EACCES from a program load is the
     * verifier's verdict (a missing capability is EPERM, and the preflight checked those before
     * the load): libbpf has printed the verifier's log to stderr, and no sudo helps, so it is a
     * host problem (exit 3) that names the kernel. A config reused from the pins that does not
     * fit asks for --reset-config.
     */
    static RuntimeException loadFailure(NativeException e, Path reusedPinDir) {
        if (e.errno() == Errno.EACCES) {
            return new HostProblem("the kernel's verifier rejected a busprobe program (bpf_object__load: EACCES; "
                    + "libbpf printed the program and the verifier's log above): this kernel (" + kernelRelease()
                    + ") and busprobe disagree; report it with that log", e);
        }
        if (reusedPinDir != null) {
            return new IllegalStateException("the config pinned in " + reusedPinDir + " does not fit this busprobe ("
                    + e.getMessage() + "); start with --reset-config", e);
        }
        return e;
    }

    private static String kernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (java.io.IOException | RuntimeException unknown) {
            return "release unknown";
        }
    }

    private void setSeeding(int on) {
        try (Arena a = Arena.ofConfined()) {
            Libbpf.check(Native.bpf_map_update_elem(mapFd(SEEDING_MAP), a.allocateFrom(ValueLayout.JAVA_INT, 0),
                    a.allocateFrom(ValueLayout.JAVA_INT, on), Native.BPF_ANY()), "bpf_map_update_elem(" + SEEDING_MAP + ")");
        }
    }

    private static final String SEEDING_MAP = "tcp_iter_seeding";

    /**
     * Run the TCP traffic iterator once over every network namespace that has a
     * process in it: every known socket's bytes and segments are added to its
     * endpoint. Returns the namespaces it could not enter (never silent: their
     * traffic is counted only at retransmit and close); {@link TrafficRefresh#NONE}
     * when the iterator is not attached.
     */
    public TrafficRefresh refreshTraffic() {
        return refreshTraffic(false, false);
    }

    /**
     * As {@link #refreshTraffic()}; {@code paced}, a namespace that moved fewer than
     * {@link #TRICKLE_SEGMENTS} TCP segments since its last walk is walked again only
     * {@link #TRICKLE_WALK_NANOS} after it. The walk visits every bucket of the established hash
     * (262,144 on a 24 GiB host, about 2.5 ms) whatever few sockets a namespace has, and on a quiet
     * host a keepalive or a scrape was enough to cause one every second. The daemon's own refresh is
     * paced: an endpoint that sends a trickle has its open sockets' traffic counted up to 5 s late
     * (at close and retransmit, at once), one that moves more every second as before.
     */
    public TrafficRefresh refreshTraffic(boolean paced) {
        return refreshTraffic(false, paced);
    }

    /** A namespace that moved fewer TCP segments than this since its last walk moved a trickle. */
    static final long TRICKLE_SEGMENTS = 64;
    /** How long a paced refresh leaves a namespace that moved only a trickle. */
    static final long TRICKLE_WALK_NANOS = 5_000_000_000L;

    /**
     * With {@code every}, each namespace is walked whatever its activity (the seeding); with
     * {@code paced}, see {@link #refreshTraffic(boolean)}.
     */
    private TrafficRefresh refreshTraffic(boolean every, boolean paced) {
        if (iteratorLink == null) {
            return TrafficRefresh.NONE;
        }
        int linkFd = Native.bpf_link__fd(iteratorLink);
        long now = System.nanoTime();
        if (namespaces == null || rescanDue(now)) {
            // reading every /proc/PID/net/dev inode costs ~5 us a process: not every second on a busy node
            namespacesScannedPid = NetNamespaces.lastPid();
            namespaces = NetNamespaces.scan();
            namespacesScannedNanos = now;
        }
        int total = namespaces.size();
        boolean stale = false;
        List<TrafficRefresh.Unreachable> unreachable = new ArrayList<>();
        Map<Long, Walk> activity = new HashMap<>();
        int walked = 0;
        int busy = 0;
        for (NetNamespaces.Namespace ns : namespaces) {
            int fd;
            long moved = ns.errno() == 0 ? NetNamespaces.tcpActivity(ns.pid()) : -1;
            Walk last = lastActivity.get(ns.key());
            long since = last == null || moved < 0 ? -1 : moved - last.activity();
            boolean trickle = since >= 0 && since < TRICKLE_SEGMENTS;
            if (!every && since == 0) {
                activity.put(ns.key(), last);
                continue; // not one TCP segment in or out since its last walk: nothing to add
            }
            if (paced && trickle && now - last.nanos() < TRICKLE_WALK_NANOS) {
                activity.put(ns.key(), last);
                continue; // a trickle since its last walk: counted at the walk after 5 s
            }
            if (ns.self()) {
                fd = Native.bpf_iter_create(linkFd); // our own namespace: no setns, no CAP_SYS_ADMIN
            } else if (ns.errno() != 0) {
                fd = -ns.errno(); // the scan found no process in it whose link we may read
            } else if (!NetNamespaces.mayHaveTcpSockets(ns.pid())) {
                continue; // no TCP socket in it now: spare the walk of the whole established hash
            } else {
                fd = NetNamespaces.inNamespaceOf(ns.pid(), () -> Native.bpf_iter_create(linkFd));
            }
            String missing = fd < 0 ? NetNamespaces.missingCapability(fd) : null;
            if (missing != null) {
                unreachable.add(new TrafficRefresh.Unreachable(ns.key(), ns.pid(), missing));
                continue;
            }
            if (fd < 0) {
                stale = true; // the process (and maybe its namespace) went away: rescan next time
                continue;
            }
            drain(fd);
            walked++;
            if (!trickle) {
                busy++;
            }
            if (moved >= 0) {
                // only a walk that ran may be skipped next time: one that could not enter the
                // namespace is tried, and reported, again
                activity.put(ns.key(), new Walk(moved, now));
            }
        }
        if (stale) {
            namespaces = null;
        }
        lastActivity = activity;
        TrafficRefresh r = new TrafficRefresh(total, unreachable, walked, busy);
        lastRefresh = r;
        return r;
    }

    /** The last refresh's result, for {@code busprobe_netns_unreachable}; read from the scrape thread. */
    public TrafficRefresh lastRefresh() {
        return lastRefresh;
    }

    private volatile TrafficRefresh lastRefresh = TrafficRefresh.NONE;

    /**
     * Each namespace's {@link NetNamespaces#tcpActivity} as read before its last walk, and when,
     * by namespace key; a namespace that moved no segment since is not walked again.
     */
    private Map<Long, Walk> lastActivity = Map.of();

    private record Walk(long activity, long nanos) {
    }

    /**
     * Every {@link #NAMESPACE_RESCAN_NANOS} when a task was created since the last scan (the
     * last PID moved), else every {@link #NAMESPACE_RESCAN_QUIET_NANOS}: a new namespace comes with a
     * new process (ip netns add, a container's init), and on a quiet host the scan (3-5 ms for 70
     * processes) was most of an idle daemon's refresh. The slower rescan still finds one that a
     * running process made for itself in place (unshare(2) without a fork).
     */
    private boolean rescanDue(long now) {
        long since = now - namespacesScannedNanos;
        if (since <= NAMESPACE_RESCAN_NANOS) {
            return false;
        }
        long pid = since > NAMESPACE_RESCAN_QUIET_NANOS ? -1 : NetNamespaces.lastPid();
        return pid == -1 || pid != namespacesScannedPid;
    }

    /** How often refreshTraffic() looks for new network namespaces while tasks are created. */
    private static final long NAMESPACE_RESCAN_NANOS = 10_000_000_000L;
    /** How often it looks while no task was created. */
    private static final long NAMESPACE_RESCAN_QUIET_NANOS = 60_000_000_000L;
    private List<NetNamespaces.Namespace> namespaces;
    private long namespacesScannedNanos;
    /** {@link NetNamespaces#lastPid} just before the last scan. */
    private long namespacesScannedPid = -1;

    /** Reading an iterator runs it; ours writes nothing, so the first read ends it. */
    private static void drain(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(4096);
            long n;
            do {
                n = Native.read(fd, buf, buf.byteSize());
            } while (n > 0);
            if (n < 0) {
                throw new IllegalStateException("reading the TCP traffic iterator failed");
            }
        } finally {
            Sys.close(fd);
        }
    }

    /** Detach every program, keeping maps and ring readable (drain after this). */
    public void detach() {
        iteratorLink = null;
        while (!links.isEmpty()) {
            Native.bpf_link__destroy(links.pop());
        }
    }

    public List<ProbeStatus> probeStatus() {
        return new ArrayList<>(status.values());
    }

    /** The kernel fd of an attached probe's program (for bpf_prog_get_info_by_fd), or -1. */
    public int programFd(Probe p) {
        requireLoaded();
        ProbeStatus st = status.get(p);
        return st != null && st.attached() ? Native.bpf_program__fd(program(p)) : -1;
    }

    // ---- maps ------------------------------------------------------------

    public int ringFd() {
        requireLoaded();
        return ringFd;
    }

    /** Exact counters for one kind, summed over all possible CPUs. */
    public KindStats kindStats(EventKind kind) {
        requireLoaded();
        return control.kindStats(kind);
    }

    /** Segments the kernel counted as retransmitted, of one trigger ({@code enum bp_retrans_kind}), over all CPUs. */
    public RetransStats retransStats(int trigger) {
        requireLoaded();
        return RetransStats.read(mapFd(RetransStats.MAP), trigger);
    }

    /** Established connections the socket table evicted, as the kernel saw them, over all CPUs. */
    public long socketTableEvictions() {
        requireLoaded();
        return SocketTable.evictions(mapFd(SocketTable.EVICTIONS));
    }

    /** The bus-endpoint rules, names and counters of this object. */
    public EndpointMaps endpointMaps() {
        requireLoaded();
        return endpointMaps;
    }

    /** Per-topic counters and names of the send-side tagging. */
    public TopicMaps topicMaps() {
        requireLoaded();
        return topicMaps;
    }

    /** The subscriber sockets of the bus endpoints and their sampled receive pressure. */
    public TopicSubscribers topicSubscribers() {
        requireLoaded();
        return topicSubscribers;
    }

    /** The exact drop counters, mapped into this process. */
    public DropStats dropStats() {
        requireLoaded();
        return dropStats;
    }

    /** The control and counter maps of this object. */
    public ControlMaps control() {
        requireLoaded();
        return control;
    }

    // ---- close -----------------------------------------------------------

    @Override
    public void close() {
        if (phase == Phase.CLOSED) {
            return;
        }
        phase = Phase.CLOSED;
        detach();
        if (pinDir != null && control != null) {
            // counters and daemon state die with the daemon; the operator's config stays
            for (String name : RUNTIME) {
                try {
                    Files.deleteIfExists(pinDir.resolve(name));
                } catch (java.io.IOException e) {
                    // not fatal on the way out: the next daemon replaces a stale pin
                    System.err.println("busprobe: cannot unpin " + pinDir.resolve(name) + ": " + e.getMessage());
                }
            }
        }
        if (dropStats != null) {
            dropStats.close();
        }
        Native.bpf_object__close(obj);
        arena.close();
    }

    private MemorySegment program(Probe p) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = Native.bpf_object__find_program_by_name(obj, a.allocateFrom(p.program()));
            if (prog.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("program " + p.program() + " missing from " + RESOURCE);
            }
            return prog;
        }
    }

    private MemorySegment map(String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = Native.bpf_object__find_map_by_name(obj, a.allocateFrom(name));
            if (m.equals(MemorySegment.NULL)) {
                throw new IllegalStateException("map " + name + " missing from " + RESOURCE);
            }
            return m;
        }
    }

    private int mapFd(String name) {
        return Libbpf.check(Native.bpf_map__fd(map(name)), "bpf_map__fd(" + name + ")");
    }

    private void requirePhase(Phase expected, String op) {
        if (phase != expected) {
            throw new IllegalStateException(op + " is only allowed when " + expected + ", object is " + phase);
        }
    }

    private void requireLoaded() {
        if (phase != Phase.LOADED && phase != Phase.ATTACHED) {
            throw new IllegalStateException("BPF object is " + phase + ", not loaded");
        }
    }
}
