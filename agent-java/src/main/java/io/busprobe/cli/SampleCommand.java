package io.busprobe.cli;

import io.busprobe.event.EventKind;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.NonDefaults;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
import io.busprobe.text.Table;
import io.busprobe.text.Units;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import static io.busprobe.text.Messages.quoted;

/**
 * {@code busprobe sample}: read or change the live sampling config by writing
 * the daemon's pinned {@code sampling} and {@code settings} maps. No RPC: the
 * kernel applies a change on the next event.
 */
@Command(name = "sample",
        header = "Show or change the kernel-side sampling, live",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = {"Show or change which event records the kernel sends to the running daemon. "
                + "Counters stay exact whatever is set here; sampling only thins the ring buffer.",
                "With no change flags, prints the current config."},
        footer = {"", "Kinds: retransmit, retransmit_synack, retransmit_failed, state, reset_sent, reset_received,",
                "rcvqueue_full, exceed_buf_limit, drop; the families retransmit, state, reset, pressure, drop; or all.",
                "'retransmit' names the family (its three kinds); 'kind:retransmit' is the kind alone.", "",
                "EXAMPLES",
                "  busprobe sample                                  # show the config",
                "  busprobe sample --kind state --every 10          # 1 in 10 state changes",
                "  busprobe sample --kind retransmit --rate 500/s --burst 100",
                "  busprobe sample --kind reset --off               # count resets, send no records",
                "  busprobe sample --kind all --on --every 1 --rate unlimited",
                "  busprobe sample --kind retransmit --no-auto      # never thinned automatically",
                "  busprobe sample --kind kind:retransmit --every 4 # the kind alone, not synack/failed",
                "  busprobe sample --watermark 64K                  # wake the daemon at 64 KiB pending",
                "  busprobe sample --reset                          # every kind and setting back to the defaults",
                "  busprobe sample --emit off                       # global switch: counters only"})
public final class SampleCommand implements Callable<Integer> {
    @Option(names = {"-k", "--kind"}, paramLabel = "K", split = ",",
            completionCandidates = Converters.KindCandidates.class,
            description = "Kind, family, kind:KIND or 'all' to change (repeatable, comma-separated; default: all).")
    List<String> kinds;

    @CommandLine.ArgGroup(exclusive = true)
    OnOff onOff;

    static final class OnOff {
        @Option(names = "--on", description = "Send records of these kinds.")
        boolean on;

        @Option(names = "--off", description = "Send no records of these kinds (they are still counted).")
        boolean off;
    }

    @Option(names = "--every", paramLabel = "N", converter = Converters.EveryConverter.class,
            description = "Send 1 in N hits (1-" + SampleSetting.MAX_EVERY + ").")
    Integer every;

    @Option(names = "--rate", paramLabel = "R[/s]", converter = Converters.RateConverter.class,
            description = "At most R records per second (1-" + SampleSetting.MAX_RATE + "), or 'unlimited'.")
    Integer rate;

    @Option(names = "--burst", paramLabel = "B", converter = Converters.BurstConverter.class,
            description = "Token-bucket depth in records for --rate (1-"
            + SampleSetting.MAX_BURST + ").")
    Integer burst;

    @CommandLine.ArgGroup(exclusive = true)
    Auto auto;

    static final class Auto {
        @Option(names = "--no-auto", description = "Automatic degradation never thins these kinds.")
        boolean noAuto;

        @Option(names = "--auto", description = "Let automatic degradation thin these kinds again (default).")
        boolean auto;
    }

    @Option(names = "--emit", paramLabel = "on|off", description = "Global switch for all ring records.")
    String emit;

    @Option(names = "--wakeup", paramLabel = "POLICY",
            description = "Ring wakeup policy: watermark (default), always (a wakeup per record), never.")
    String wakeup;

    @Option(names = "--watermark", paramLabel = "SIZE", converter = Converters.WatermarkConverter.class,
            description = "Pending bytes at which the kernel wakes the daemon (policy watermark), 4K to 1G, "
                    + "e.g. 64K; or 'auto', 1/8 of the ring, which every daemon derives again for its own ring.")
    Long watermark;

    @Option(names = "--reset",
            description = "Put the kinds back to the defaults (on, 1/1, no rate limit, auto) before the other flags; "
                    + "without --kind, emit, wakeup and watermark too.")
    boolean reset;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        // validate everything before touching a map: nothing is half-applied
        Set<EventKind> selected = Kinds.parse(spec.commandLine(), kinds);
        Boolean emitValue = emit == null ? null : parseOnOff("--emit", emit);
        Settings.Wakeup wakeupValue = wakeup == null ? null : parseWakeup(wakeup);
        boolean changes = reset || onOff != null || every != null || rate != null || burst != null || auto != null;
        try (RunningDaemon daemon = RunningDaemon.find(PinDir.resolve())) {
            ControlMaps maps = daemon.control();
            AgentState state = daemon.state();
            Map<EventKind, SampleSetting> next = new EnumMap<>(EventKind.class);
            if (changes) {
                for (EventKind k : selected) {
                    SampleSetting s = reset ? SampleSetting.DEFAULT.withEnabled(state.attached(k)) : maps.sampling(k);
                    try {
                        if (onOff != null) {
                            s = s.withEnabled(onOff.on);
                        }
                        if (every != null) {
                            s = s.withEvery(every);
                        }
                        if (rate != null || burst != null) {
                            s = s.withRate(rate != null ? rate : s.rate(), burst != null ? burst : s.burst());
                        }
                        if (auto != null) {
                            s = s.withNoAuto(auto.noAuto);
                        }
                    } catch (IllegalArgumentException e) {
                        throw usage(e.getMessage());
                    }
                    next.put(k, s);
                }
                ambiguousKinds().forEach(note -> spec.commandLine().getErr().println("busprobe: " + note));
            }
            Settings current = maps.settings();
            Settings base = reset && kinds == null ? Settings.defaults(state.ringSize()) : current;
            Settings nextSettings = new Settings(emitValue != null ? emitValue : base.emit(),
                    wakeupValue != null ? wakeupValue : base.wakeup(), base.watermark(), base.watermarkSet());
            if (watermark != null) {
                nextSettings = watermark == Converters.WatermarkConverter.AUTO
                        ? nextSettings.withDerivedWatermark(state.ringSize())
                        : nextSettings.withWatermark((int) (long) watermark);
                if (nextSettings.watermarkSet() && nextSettings.watermark() >= state.ringSize()) {
                    throw usage("--watermark " + Units.size(nextSettings.watermark()) + " is not below the daemon's ring ("
                            + Units.size(state.ringSize()) + "): the kernel would never wake it; use at most "
                            + Units.size(state.ringSize() / 2) + ", or auto");
                }
            }
            next.forEach(maps::sampling);
            if (!nextSettings.equals(current)) {
                maps.settings(nextSettings);
            }
            print(spec.commandLine().getOut(), maps, state);
        }
        return 0;
    }

    /** A note for each bare --kind word that names a family although a kind has the same name. */
    private List<String> ambiguousKinds() {
        List<String> notes = new java.util.ArrayList<>();
        for (String raw : kinds == null ? List.<String>of() : kinds) {
            String w = raw.trim().toLowerCase(Locale.ROOT);
            Set<EventKind> named = EventKind.named(w);
            if (named.size() > 1 && named.stream().anyMatch(k -> k.label().equals(w))) {
                notes.add(quoted(w) + " is the family (" + named.stream().map(EventKind::label)
                        .collect(java.util.stream.Collectors.joining(", ")) + "); " + quoted(EventKind.KIND_PREFIX + w)
                        + " is the kind alone");
            }
        }
        return notes;
    }

    static void print(PrintWriter out, ControlMaps maps, AgentState daemon) {
        Settings s = maps.settings();
        Table t = new Table(Table.left("KIND", 0), Table.left("SAMPLING (operator)", 0), Table.right("AUTO", 0),
                Table.left("EFFECTIVE", 0));
        boolean flagged = false;
        for (EventKind k : EventKind.values()) {
            EffectiveSampling eff = maps.effective(k, daemon.attached(k));
            SampleSetting op = maps.sampling(k);
            boolean changed = NonDefaults.kind(op, daemon.attached(k)) != null;
            flagged |= changed;
            t.row(k.label(), op.describe() + (changed ? " " + StatusCommand.NOT_DEFAULT : ""), "1/" + eff.autoEvery(),
                    eff.describe());
        }
        t.render(Integer.MAX_VALUE).lines().forEach(out::println);
        flagged |= !s.differences(daemon.ringSize()).isEmpty();
        out.println(settingsLine(s, daemon.ringSize()));
        if (flagged) {
            out.println(StatusCommand.NOT_DEFAULT + " not the default; 'busprobe sample --reset' goes back");
        }
        out.flush();
    }

    /**
     * {@code emit on, wakeup watermark at 1M pending (1/8 of the ring)}, each setting that is not the
     * default marked.
     */
    static String settingsLine(Settings s, long ringSize) {
        String mark = " " + StatusCommand.NOT_DEFAULT;
        String watermark = s.wakeup() != Settings.Wakeup.WATERMARK ? ""
                : " at " + Units.size(s.watermark()) + " pending" + (s.watermarkSet() ? mark : " (1/8 of the ring)");
        return "emit " + (s.emit() ? "on" : "off (counters only)" + mark) + ", wakeup " + s.wakeup().label()
                + (s.wakeup() != Settings.Wakeup.WATERMARK ? mark : "") + watermark;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    private boolean parseOnOff(String option, String text) {
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw usage(option + " takes on or off, got " + quoted(text));
        };
    }

    private Settings.Wakeup parseWakeup(String text) {
        try {
            return Settings.Wakeup.valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw usage("--wakeup takes watermark, always or never, got " + quoted(text));
        }
    }

    /** Kind names for --kind: kind labels, family labels, all. */
    static final class Kinds {
        private Kinds() {
        }

        static Set<EventKind> parse(CommandLine cl, List<String> names) {
            Set<EventKind> out = EnumSet.noneOf(EventKind.class);
            if (names == null || names.isEmpty()) {
                return EnumSet.allOf(EventKind.class);
            }
            for (String raw : names) {
                Set<EventKind> named = EventKind.named(raw);
                if (named.isEmpty()) {
                    throw new CommandLine.ParameterException(cl, "unknown kind " + quoted(raw.trim())
                            + "; choose a kind (e.g. retransmit, state, reset_received), a family "
                            + "(retransmit, state, reset, pressure, drop) or all");
                }
                out.addAll(named);
            }
            return out;
        }
    }
}
