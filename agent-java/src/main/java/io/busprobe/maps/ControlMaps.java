package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_agent_state;
import io.busprobe.bindings.bp_kind_stats;
import io.busprobe.bindings.bp_sample_cfg;
import io.busprobe.bindings.bp_settings;
import io.busprobe.event.EventKind;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Typed access to busprobe's control and counter maps, by fd: either the fds of
 * the loaded BPF object (the daemon) or fds obtained
 * from the pins under {@link PinDir} (the {@code sample} and {@code status}
 * commands, which never talk to the daemon). Writes go straight to the kernel,
 * which applies them on the next event.
 *
 * <p>Map updates are whole-value writes; the operator's {@code sampling} map and
 * the daemon's {@code sampling_auto} map have one writer each.
 */
public final class ControlMaps implements AutoCloseable {
    /** Map names, as in bpf/maps.bpf.h; also the pin file names. */
    public static final String SAMPLING = "sampling";
    public static final String SAMPLING_AUTO = "sampling_auto";
    public static final String SETTINGS = "settings";
    public static final String KIND_STATS = "kind_stats";
    public static final String AGENT_STATE = "agent_state";

    private final int sampling;
    private final int samplingAuto;
    private final int settings;
    private final int kindStats;
    private final int agentState;
    private final boolean ownsFds;

    public ControlMaps(int sampling, int samplingAuto, int settings, int kindStats, int agentState) {
        this(sampling, samplingAuto, settings, kindStats, agentState, false);
    }

    private ControlMaps(int sampling, int samplingAuto, int settings, int kindStats, int agentState,
                        boolean ownsFds) {
        this.sampling = sampling;
        this.samplingAuto = samplingAuto;
        this.settings = settings;
        this.kindStats = kindStats;
        this.agentState = agentState;
        this.ownsFds = ownsFds;
    }

    /**
     * Open the maps a running daemon pinned under {@code dir}.
     *
     * @throws NoDaemonException when nothing is pinned there
     */
    public static ControlMaps openPinned(Path dir) {
        int[] fds = Pins.open(dir, SAMPLING, SAMPLING_AUTO, SETTINGS, KIND_STATS, AGENT_STATE);
        return new ControlMaps(fds[0], fds[1], fds[2], fds[3], fds[4], true);
    }

    // ---- sampling ------------------------------------------------------

    public SampleSetting sampling(EventKind kind) {
        return readCfg(sampling, SAMPLING, kind);
    }

    public void sampling(EventKind kind, SampleSetting s) {
        writeCfg(sampling, SAMPLING, kind, s);
    }

    /** The daemon's automatic 1-in-N for a kind (1 = not degraded). */
    public int autoEvery(EventKind kind) {
        return readCfg(samplingAuto, SAMPLING_AUTO, kind).every();
    }

    /** What the kernel does with the kind's hits now; see {@link EffectiveSampling}. */
    public EffectiveSampling effective(EventKind kind, boolean attached) {
        return EffectiveSampling.of(sampling(kind), autoEvery(kind), settings(), attached);
    }

    public void autoEvery(EventKind kind, int every) {
        writeCfg(samplingAuto, SAMPLING_AUTO, kind, SampleSetting.DEFAULT.withEvery(every));
    }

    private static SampleSetting readCfg(int fd, String map, EventKind kind) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_sample_cfg.allocate(a);
            lookup(fd, map, a.allocateFrom(ValueLayout.JAVA_INT, kind.id()), v);
            int every = Math.max(1, bp_sample_cfg.every(v));
            int rate = bp_sample_cfg.rate(v);
            return new SampleSetting(bp_sample_cfg.enabled(v) != 0, Math.min(every, SampleSetting.MAX_EVERY),
                    Math.clamp(rate, 0, SampleSetting.MAX_RATE),
                    Math.clamp(bp_sample_cfg.burst(v), 1, SampleSetting.MAX_BURST),
                    (bp_sample_cfg.flags(v) & Native.BP_SAMPLE_NO_AUTO()) != 0);
        }
    }

    private static void writeCfg(int fd, String map, EventKind kind, SampleSetting s) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_sample_cfg.allocate(a);
            bp_sample_cfg.enabled(v, s.enabled() ? 1 : 0);
            bp_sample_cfg.every(v, s.every());
            bp_sample_cfg.rate(v, s.rate());
            bp_sample_cfg.burst(v, s.burst());
            bp_sample_cfg.interval_ns(v, s.intervalNanos());
            bp_sample_cfg.flags(v, s.noAuto() ? Native.BP_SAMPLE_NO_AUTO() : 0);
            update(fd, map, a.allocateFrom(ValueLayout.JAVA_INT, kind.id()), v);
        }
    }

    // ---- settings ------------------------------------------------------

    public Settings settings() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_settings.allocate(a);
            lookup(settings, SETTINGS, a.allocateFrom(ValueLayout.JAVA_INT, 0), v);
            return new Settings(bp_settings.emit(v) != 0, Settings.Wakeup.ofId(bp_settings.wakeup_policy(v)),
                    Math.max(0, bp_settings.wakeup_watermark(v)),
                    (bp_settings.flags(v) & Native.BP_SETTINGS_WATERMARK_SET()) != 0);
        }
    }

    public void settings(Settings s) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_settings.allocate(a);
            bp_settings.emit(v, s.emit() ? 1 : 0);
            bp_settings.wakeup_policy(v, s.wakeup().id());
            bp_settings.wakeup_watermark(v, s.watermark());
            bp_settings.flags(v, s.watermarkSet() ? Native.BP_SETTINGS_WATERMARK_SET() : 0);
            update(settings, SETTINGS, a.allocateFrom(ValueLayout.JAVA_INT, 0), v);
        }
    }

    // ---- counters ------------------------------------------------------

    /** Exact counters for one kind, summed over all possible CPUs. */
    public KindStats kindStats(EventKind kind) {
        long[] f = new long[6];
        PerCpu.forEachCpu(kindStats, KIND_STATS, kind.id(), bp_kind_stats.layout(), v -> {
            f[0] += bp_kind_stats.seen(v);
            f[1] += bp_kind_stats.sampled_out(v);
            f[2] += bp_kind_stats.rate_limited(v);
            f[3] += bp_kind_stats.submitted(v);
            f[4] += bp_kind_stats.dropped(v);
            f[5] += bp_kind_stats.segs(v);
        });
        return new KindStats(f[0], f[1], f[2], f[3], f[4], f[5]);
    }

    // ---- agent state ---------------------------------------------------

    public AgentState agentState() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_agent_state.allocate(a);
            lookup(agentState, AGENT_STATE, a.allocateFrom(ValueLayout.JAVA_INT, 0), v);
            long[] read = new long[EventKind.MAX];
            for (int i = 0; i < read.length; i++) {
                read[i] = bp_agent_state.records_read(v, i);
            }
            MemorySegment message = bp_agent_state.reload_message(v);
            long end = 0;
            while (end < message.byteSize() && message.get(ValueLayout.JAVA_BYTE, end) != 0) {
                end++;
            }
            AgentState.Reload reload = new AgentState.Reload(bp_agent_state.reload_started_ns(v),
                    AgentState.Result.ofId(bp_agent_state.reload_result(v)),
                    new String(message.asSlice(0, end).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            return new AgentState(bp_agent_state.pid(v), (bp_agent_state.flags(v) & Native.BP_AGENT_DEGRADED()) != 0,
                    bp_agent_state.heartbeat_ns(v), bp_agent_state.started_ns(v), bp_agent_state.ring_size(v),
                    bp_agent_state.ring_pending(v), read, bp_agent_state.probes_attached(v), reload,
                    bp_agent_state.endpoints(v), bp_agent_state.rules(v));
        }
    }

    public void agentState(AgentState s) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_agent_state.allocate(a);
            bp_agent_state.pid(v, s.pid());
            bp_agent_state.flags(v, s.degraded() ? Native.BP_AGENT_DEGRADED() : 0);
            bp_agent_state.heartbeat_ns(v, s.heartbeatNanos());
            bp_agent_state.started_ns(v, s.startedNanos());
            bp_agent_state.ring_size(v, s.ringSize());
            bp_agent_state.ring_pending(v, s.ringPending());
            for (int i = 0; i < EventKind.MAX; i++) {
                bp_agent_state.records_read(v, i, s.recordsRead()[i]);
            }
            bp_agent_state.probes_attached(v, s.probesAttached());
            bp_agent_state.reload_started_ns(v, s.reload().startedNanos());
            bp_agent_state.reload_result(v, s.reload().result().ordinal());
            bp_agent_state.endpoints(v, s.endpoints());
            bp_agent_state.rules(v, s.rules());
            byte[] text = utf8Prefix(s.reload().message(), (int) bp_agent_state.reload_message(v).byteSize() - 1);
            MemorySegment.copy(text, 0, bp_agent_state.reload_message(v), ValueLayout.JAVA_BYTE, 0, text.length);
            update(agentState, AGENT_STATE, a.allocateFrom(ValueLayout.JAVA_INT, 0), v);
        }
    }

    /** The longest prefix of {@code s} in UTF-8 that fits {@code max} bytes without cutting a character. */
    static byte[] utf8Prefix(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) {
            return b;
        }
        int n = max;
        while (n > 0 && (b[n] & 0xc0) == 0x80) {
            n--; // b[n] continues the character before it: cut before that character
        }
        return java.util.Arrays.copyOf(b, n);
    }

    private static void lookup(int fd, String map, MemorySegment key, MemorySegment value) {
        Libbpf.check(Native.bpf_map_lookup_elem(fd, key, value), "bpf_map_lookup_elem(" + map + ")");
    }

    private static void update(int fd, String map, MemorySegment key, MemorySegment value) {
        Libbpf.check(Native.bpf_map_update_elem(fd, key, value, Native.BPF_ANY()), "bpf_map_update_elem(" + map + ")");
    }

    @Override
    public void close() {
        if (ownsFds) {
            Pins.close(sampling, samplingAuto, settings, kindStats, agentState);
        }
    }
}
