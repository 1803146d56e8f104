package io.busprobe.cli;

import io.busprobe.event.EventKind;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.NonDefaults;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import io.busprobe.text.Table;
import io.busprobe.text.Units;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.json.JsonFactory;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code busprobe status}: the running daemon's config, exact counters and health, from its pinned maps. */
@Command(name = "status",
        header = "Show the daemon's sampling config, exact counters and ring",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Show, per kind, the sampling config and the exact counters (seen, sampled out, rate limited, "
                + "submitted, dropped) next to the records the daemon read, plus ring size and fill, attached "
                + "probes and whether automatic degradation is active.",
        footer = {"", "EXAMPLES", "  busprobe status", "  busprobe status --json | jq .kinds.state"})
public final class StatusCommand implements Callable<Integer> {
    @Option(names = "--json", description = "One JSON object instead of a table.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        try (RunningDaemon daemon = RunningDaemon.find(PinDir.resolve())) {
            AgentState a = daemon.state();
            java.util.OptionalLong evictions = daemon.socketTableEvictions();
            if (json) {
                printJson(spec.commandLine().getOut(), daemon.control(), a, evictions);
            } else {
                printTable(spec.commandLine().getOut(), daemon.control(), a, evictions, Terminal.width());
            }
        }
        return 0;
    }

    /** The mark of a setting that is not the default, in the table and its footnote. */
    static final String NOT_DEFAULT = "*";

    private static void printTable(PrintWriter out, ControlMaps maps, AgentState a, java.util.OptionalLong evictions,
                                   int width) {
        Settings s = maps.settings();
        long now = System.nanoTime();
        out.println(Table.fit(String.format("daemon pid %d, up %s, ring %s, %s pending (%.1f%%), automatic degradation %s",
                a.pid(), Units.seconds((now - a.startedNanos()) / 1e9), Units.size(a.ringSize()),
                Units.size(a.ringPending()) + (a.ringPending() < 1024 ? " bytes" : ""),
                a.ringSize() == 0 ? 0.0 : 100.0 * a.ringPending() / a.ringSize(), a.degraded() ? "ACTIVE" : "off"),
                width));
        out.println(Table.fit("endpoints: " + a.endpoints() + " endpoint(s), " + a.rules() + " rule(s)"
                + (a.reload().result() == AgentState.Result.NONE ? ""
                : "; last reload " + Units.seconds((now - a.reload().startedNanos()) / 1e9) + " ago: "
                + a.reload().message())
                + (evictions.isPresent() ? "; socket table evictions " + evictions.getAsLong() : ""), width));
        Table t = new Table(Table.left("KIND", 0), Table.left("PROBE", 0), Table.left("SAMPLING", 0),
                Table.right("AUTO", 0), Table.right("SEEN", 0), Table.right("SAMPLED_OUT", 0),
                Table.right("RATE_LIMITED", 0), Table.right("SUBMITTED", 0), Table.right("DROPPED", 0),
                Table.right("READ", 0));
        boolean flagged = false;
        for (EventKind k : EventKind.values()) {
            SampleSetting op = maps.sampling(k);
            KindStats st = maps.kindStats(k);
            int autoEvery = maps.effective(k, a.attached(k)).autoEvery();
            boolean changed = NonDefaults.kind(op, a.attached(k)) != null;
            flagged |= changed;
            t.row(k.label(), a.attached(k) ? "attached" : "-", op.describe() + (changed ? " " + NOT_DEFAULT : ""),
                    "1/" + autoEvery, Long.toString(st.seen()), Long.toString(st.sampledOut()),
                    Long.toString(st.rateLimited()), Long.toString(st.submitted()), Long.toString(st.dropped()),
                    Long.toString(a.recordsRead(k)));
        }
        t.render(Integer.MAX_VALUE).lines().forEach(out::println);
        flagged |= !s.differences(a.ringSize()).isEmpty();
        out.println(SampleCommand.settingsLine(s, a.ringSize()) + "; READ is as of the daemon's last refresh (every 250 ms)");
        if (flagged) {
            out.println(NOT_DEFAULT + " not the default: set with 'busprobe sample', now or before this daemon started "
                    + "(the config outlives daemons); 'busprobe sample --reset' goes back to the defaults");
        }
        out.flush();
    }

    private static void printJson(PrintWriter out, ControlMaps maps, AgentState a, java.util.OptionalLong evictions) {
        Settings s = maps.settings();
        java.io.StringWriter buf = new java.io.StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(ObjectWriteContext.empty(), buf)) {
            g.writeStartObject();
            g.writeNumberProperty("pid", a.pid());
            g.writeNumberProperty("uptime_s", (System.nanoTime() - a.startedNanos()) / 1_000_000_000L);
            g.writeNumberProperty("ring_size_bytes", a.ringSize());
            g.writeNumberProperty("ring_pending_bytes", a.ringPending());
            g.writeBooleanProperty("degraded", a.degraded());
            g.writeBooleanProperty("emit", s.emit());
            g.writeStringProperty("wakeup", s.wakeup().label());
            g.writeNumberProperty("wakeup_watermark_bytes", s.watermark());
            g.writeBooleanProperty("wakeup_watermark_set", s.watermarkSet());
            g.writeNumberProperty("endpoints", a.endpoints());
            g.writeNumberProperty("rules", a.rules());
            if (evictions.isPresent()) {
                g.writeNumberProperty("socket_table_evictions", evictions.getAsLong());
            }
            g.writeName("not_default");
            g.writeStartArray();
            for (String d : NonDefaults.of(maps, a.ringSize(), a::attached)) {
                g.writeString(d);
            }
            g.writeEndArray();
            long submitted = 0;
            long read = 0;
            long dropped = 0;
            g.writeName("kinds");
            g.writeStartObject();
            for (EventKind k : EventKind.values()) {
                SampleSetting op = maps.sampling(k);
                KindStats st = maps.kindStats(k);
                submitted += st.submitted();
                dropped += st.dropped();
                read += a.recordsRead(k);
                g.writeName(k.label());
                g.writeStartObject();
                g.writeBooleanProperty("attached", a.attached(k));
                g.writeBooleanProperty("enabled", op.enabled());
                g.writeNumberProperty("every", op.every());
                g.writeNumberProperty("rate", op.rate());
                g.writeNumberProperty("burst", op.burst());
                g.writeBooleanProperty("no_auto", op.noAuto());
                g.writeNumberProperty("auto_every", maps.effective(k, a.attached(k)).autoEvery());
                g.writeBooleanProperty("default", NonDefaults.kind(op, a.attached(k)) == null);
                g.writeNumberProperty("seen", st.seen());
                g.writeNumberProperty("sampled_out", st.sampledOut());
                g.writeNumberProperty("rate_limited", st.rateLimited());
                g.writeNumberProperty("submitted", st.submitted());
                g.writeNumberProperty("dropped", st.dropped());
                g.writeNumberProperty("read", a.recordsRead(k));
                g.writeNumberProperty("segs", st.segs());
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeNumberProperty("submitted", submitted);
            g.writeNumberProperty("dropped", dropped);
            g.writeNumberProperty("read", read);
            g.writeEndObject();
        }
        out.println(buf);
        out.flush();
    }
}
