package io.busprobe.cli;

import io.busprobe.event.EventKind;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
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
                "rcvqueue_full, exceed_buf_limit; the families retransmit, state, reset, pressure; or all.", "",
                "EXAMPLES",
                "  busprobe sample                                  # show the config",
                "  busprobe sample --kind state --every 10          # 1 in 10 state changes",
                "  busprobe sample --kind retransmit --rate 500/s --burst 100",
                "  busprobe sample --kind reset --off               # count resets, send no records",
                "  busprobe sample --kind all --on --every 1 --rate unlimited",
                "  busprobe sample --kind retransmit --no-auto      # never thinned automatically",
                "  busprobe sample --emit off                       # global switch: counters only"})
public final class SampleCommand implements Callable<Integer> {
    @Option(names = {"-k", "--kind"}, paramLabel = "K", split = ",",
            description = "Kind, family or 'all' to change (repeatable, comma-separated; default: all).")
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

    @Option(names = "--rate", paramLabel = "R[/s]",
            description = "At most R records per second (1-" + SampleSetting.MAX_RATE + "), or 'unlimited'.")
    String rate;

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

    @Option(names = "--watermark", paramLabel = "BYTES",
            description = "Pending bytes at which the kernel wakes the daemon (policy watermark).")
    Integer watermark;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        // validate everything before touching a map: nothing is half-applied
        Set<EventKind> selected = Kinds.parse(spec.commandLine(), kinds);
        Integer rateValue = rate == null ? null : parseRate(rate);
        Boolean emitValue = emit == null ? null : parseOnOff("--emit", emit);
        Settings.Wakeup wakeupValue = wakeup == null ? null : parseWakeup(wakeup);
        if (watermark != null && (watermark < 4096 || watermark > (1 << 30))) {
            throw usage("--watermark must be between 4096 and 1073741824 bytes, got " + watermark);
        }
        boolean changes = onOff != null || every != null || rateValue != null || burst != null || auto != null;
        try (ControlMaps maps = ControlMaps.openPinned(PinDir.resolve())) {
            AgentState daemon = StatusCommand.requireAlive(maps);
            Map<EventKind, SampleSetting> next = new EnumMap<>(EventKind.class);
            if (changes) {
                for (EventKind k : selected) {
                    SampleSetting s = maps.sampling(k);
                    try {
                        if (onOff != null) {
                            s = s.withEnabled(onOff.on);
                        }
                        if (every != null) {
                            s = s.withEvery(every);
                        }
                        if (rateValue != null || burst != null) {
                            s = s.withRate(rateValue != null ? rateValue : s.rate(), burst != null ? burst : s.burst());
                        }
                        if (auto != null) {
                            s = s.withNoAuto(auto.noAuto);
                        }
                    } catch (IllegalArgumentException e) {
                        throw usage(e.getMessage());
                    }
                    next.put(k, s);
                }
            }
            Settings current = maps.settings();
            Settings nextSettings = new Settings(emitValue != null ? emitValue : current.emit(),
                    wakeupValue != null ? wakeupValue : current.wakeup(),
                    watermark != null ? watermark : current.watermark());
            next.forEach(maps::sampling);
            if (!nextSettings.equals(current)) {
                maps.settings(nextSettings);
            }
            print(spec.commandLine().getOut(), maps, daemon);
        }
        return 0;
    }

    static void print(PrintWriter out, ControlMaps maps, AgentState daemon) {
        Settings s = maps.settings();
        out.printf("%-18s %-28s %-8s %s%n", "KIND", "SAMPLING (operator)", "AUTO", "EFFECTIVE");
        for (EventKind k : EventKind.values()) {
            EffectiveSampling eff = maps.effective(k, daemon.attached(k));
            out.printf("%-18s %-28s %-8s %s%n", k.label(), maps.sampling(k).describe(), "1/" + eff.autoEvery(),
                    eff.describe());
        }
        out.printf("emit %s, wakeup %s%s%n", s.emit() ? "on" : "off (counters only)", s.wakeup().label(),
                s.wakeup() == Settings.Wakeup.WATERMARK ? " at " + s.watermark() + " bytes pending" : "");
        out.flush();
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    private int parseRate(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("unlimited") || t.equals("0")) {
            return 0;
        }
        if (t.endsWith("/s")) {
            t = t.substring(0, t.length() - 2);
        }
        try {
            long r = Long.parseLong(t);
            if (r < 1 || r > SampleSetting.MAX_RATE) {
                throw usage("--rate must be between 1 and " + SampleSetting.MAX_RATE + " records/s or 'unlimited', got "
                        + text);
            }
            return (int) r;
        } catch (NumberFormatException e) {
            throw usage("--rate " + quoted(text) + " is not a rate; use e.g. 500, 500/s or unlimited");
        }
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
                            + "(retransmit, state, reset, pressure) or all");
                }
                out.addAll(named);
            }
            return out;
        }
    }
}
