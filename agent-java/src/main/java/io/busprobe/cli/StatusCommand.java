package io.busprobe.cli;

import io.busprobe.event.EventKind;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.NoDaemonException;
import io.busprobe.maps.PinDir;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.Settings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
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
        try (ControlMaps maps = ControlMaps.openPinned(PinDir.resolve())) {
            AgentState a = requireAlive(maps);
            if (json) {
                printJson(spec.commandLine().getOut(), maps, a);
            } else {
                printTable(spec.commandLine().getOut(), maps, a);
            }
        }
        return 0;
    }

    /** The daemon's published state, or a one-line error when it is gone. */
    static AgentState requireAlive(ControlMaps maps) {
        AgentState a = maps.agentState();
        if (!a.alive(System.nanoTime())) {
            throw new NoDaemonException("the busprobe daemon" + (a.pid() > 0 ? " (pid " + a.pid() + ")" : "")
                    + " is not running; its maps in " + PinDir.resolve() + " are stale. Start one with 'busprobe run'");
        }
        return a;
    }

    private static void printTable(PrintWriter out, ControlMaps maps, AgentState a) {
        Settings s = maps.settings();
        out.printf("daemon pid %d, up %ds, ring %d KiB, %d bytes pending (%.1f%%), automatic degradation %s%n",
                a.pid(), (System.nanoTime() - a.startedNanos()) / 1_000_000_000L, a.ringSize() >> 10,
                a.ringPending(), a.ringSize() == 0 ? 0.0 : 100.0 * a.ringPending() / a.ringSize(),
                a.degraded() ? "ACTIVE" : "off");
        out.printf("%-18s %-8s %-22s %-7s %12s %12s %12s %12s %10s %12s%n", "KIND", "PROBE", "SAMPLING", "AUTO",
                "SEEN", "SAMPLED_OUT", "RATE_LIMITED", "SUBMITTED", "DROPPED", "READ");
        for (EventKind k : EventKind.values()) {
            SampleSetting op = maps.sampling(k);
            KindStats st = maps.kindStats(k);
            int autoEvery = maps.effective(k, a.attached(k)).autoEvery();
            out.printf("%-18s %-8s %-22s %-7s %12d %12d %12d %12d %10d %12d%n", k.label(),
                    a.attached(k) ? "attached" : "-", op.describe(), "1/" + autoEvery,
                    st.seen(), st.sampledOut(), st.rateLimited(), st.submitted(), st.dropped(), a.recordsRead(k));
        }
        out.printf("emit %s, wakeup %s; READ is as of the daemon's last refresh (every 250 ms)%n",
                s.emit() ? "on" : "off", s.wakeup().label());
        out.flush();
    }

    private static void printJson(PrintWriter out, ControlMaps maps, AgentState a) {
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
