package io.busprobe.cli;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.EndpointMaps.Offender;
import io.busprobe.maps.EndpointMaps.Totals;
import io.busprobe.text.Table;
import io.busprobe.text.Units;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.json.JsonFactory;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The correlation view behind {@code busprobe endpoints} and {@code busprobe top}:
 * two snapshots of the kernel's per-endpoint counters and worst-offender tables,
 * turned into rates and ratios over the time between them.
 */
final class EndpointView {
    /** Everything read from the maps at one instant. */
    record Snapshot(long nanos, List<Name> names, Map<Integer, Totals> totals, List<Offender> procs,
                    List<Offender> peers) {
        /** The counters as of when the reading began: what a window is measured between. */
        static Snapshot take(EndpointMaps maps) {
            long nanos = System.nanoTime();
            List<Name> names = maps.names();
            Map<Integer, Totals> totals = new HashMap<>();
            for (Name n : names) {
                if (n.id() != 0 && n.name().isEmpty()) {
                    continue;
                }
                for (Direction d : Direction.of(n.id())) {
                    totals.put(EndpointMaps.key(n.id(), d), maps.totals(n.id(), d));
                }
            }
            return new Snapshot(nanos, names, totals, maps.processes(), maps.peers());
        }
    }

    /** One endpoint and direction over the window. */
    record Row(String endpoint, String bus, String direction, long live, Totals delta, double seconds,
               List<Offender> worstProcs, List<Offender> worstPeers) {
        double perSecond(long v) {
            return seconds <= 0 ? v : v / seconds;
        }
    }

    /**
     * Rows for an incident: the endpoint with the worst retransmit ratio first, then by traffic;
     * an endpoint's client and server rows stay together (client first).
     */
    static List<Row> rows(Snapshot before, Snapshot after, boolean includeIdle) {
        double seconds = (after.nanos() - before.nanos()) / 1e9;
        List<Row> rows = new ArrayList<>();
        for (Name n : after.names()) {
            for (Direction d : Direction.values()) {
                int key = EndpointMaps.key(n.id(), d);
                Totals now = after.totals().get(key);
                if (now == null) {
                    continue;
                }
                Totals then = before.totals().getOrDefault(key, now.minus(now));
                Totals delta = now.minus(then);
                long live = now.connOpened() - now.connClosed();
                if (!includeIdle && delta.isZero() && live <= 0) {
                    continue;
                }
                rows.add(new Row(n.id() == Endpoint.OTHER_ID ? Endpoint.OTHER_NAME : n.name(), BusType.labelOf(n.bus()),
                        d.label(),
                        Math.max(0, live), delta, seconds, worst(before.procs(), after.procs(), n.id(), d),
                        worst(before.peers(), after.peers(), n.id(), d)));
            }
        }
        Map<String, double[]> groups = new HashMap<>(); // endpoint -> {worst ratio, bytes}
        for (Row r : rows) {
            double[] g = groups.computeIfAbsent(r.endpoint(), e -> new double[2]);
            g[0] = Math.max(g[0], r.delta().retransRatio());
            g[1] += r.delta().bytesSent() + r.delta().bytesReceived();
        }
        rows.sort(Comparator.comparingDouble((Row r) -> -groups.get(r.endpoint())[0])
                .thenComparingDouble(r -> -groups.get(r.endpoint())[1])
                .thenComparing(Row::endpoint)
                .thenComparing(Row::direction)); // client before server; other's none is alone
        return rows;
    }

    /** The three offenders that gained the most retransmits (then resets) in the window. */
    private static List<Offender> worst(List<Offender> before, List<Offender> after, int endpoint, Direction d) {
        Map<String, Offender> old = new HashMap<>();
        for (Offender o : before) {
            if (o.endpoint() == endpoint && o.direction() == d) {
                old.put(o.who(), o);
            }
        }
        List<Offender> gained = new ArrayList<>();
        for (Offender o : after) {
            if (o.endpoint() != endpoint || o.direction() != d) {
                continue;
            }
            Offender p = old.get(o.who());
            long r = o.retransSegs() - (p == null ? 0 : p.retransSegs());
            long s = o.resets() - (p == null ? 0 : p.resets());
            if (r > 0 || s > 0) {
                gained.add(new Offender(endpoint, d, o.who(), r, s));
            }
        }
        gained.sort(Comparator.comparingLong((Offender o) -> -o.retransSegs()).thenComparingLong(o -> -o.resets()));
        return gained.subList(0, Math.min(3, gained.size()));
    }

    /**
     * The columns of the endpoint table and the order they drop out in when the terminal is
     * narrower than the table (README, "Bus endpoints"): BUS first, then RX SEG/s, TX SEG/s,
     * OPEN/CLOSE, PRESS, LIVE, RST RX, RST TX, RX/s, TX/s; ENDPOINT, DIR and RETRANS always stay.
     */
    static Table table() {
        return new Table(Table.left("ENDPOINT", 0), Table.left("BUS", 10), Table.left("DIR", 0),
                Table.right("LIVE", 5), Table.right("OPEN/CLOSE", 7), Table.right("TX/s", 1), Table.right("RX/s", 2),
                Table.right("TX SEG/s", 8), Table.right("RX SEG/s", 9), Table.right("RETRANS", 0),
                Table.right("RST TX", 3), Table.right("RST RX", 4), Table.right("PRESS", 6));
    }

    /**
     * The table under {@code title}, at most {@code width} columns wide, then the worst processes
     * and peers, then which columns were left out to fit. {@code empty} is said instead of a table
     * when there are no rows.
     */
    static List<String> lines(List<Row> rows, String title, String empty, int width) {
        List<String> lines = new ArrayList<>();
        lines.add(Table.fit(title, width));
        if (rows.isEmpty()) {
            lines.add(Table.fit(empty, width));
            return lines;
        }
        Table t = table();
        for (Row r : rows) {
            Totals d = r.delta();
            t.row(r.endpoint(), r.bus(), r.direction(), Long.toString(r.live()),
                    d.connOpened() + "/" + (d.connClosed() + d.connFailed()),
                    Units.bytesPerSecond(r.perSecond(d.bytesSent())), Units.bytesPerSecond(r.perSecond(d.bytesReceived())),
                    Units.count(r.perSecond(d.segsOut())), Units.count(r.perSecond(d.segsIn())),
                    Units.percent(d.retransRatio()), Units.count(d.resetsSent()), Units.count(d.resetsReceived()),
                    Units.count(d.pressure()));
        }
        Table.Rendered table = t.render(width);
        lines.addAll(table.lines());
        for (Row r : rows) {
            if (!r.worstProcs().isEmpty() || !r.worstPeers().isEmpty()) {
                lines.add(Table.fit("  " + r.endpoint() + "/" + r.direction() + " worst processes: "
                        + describe(r.worstProcs()) + "; worst peers: " + describe(r.worstPeers()), width));
            }
        }
        table.droppedNote(width).ifPresent(lines::add);
        return lines;
    }

    static void printTable(PrintWriter out, List<Row> rows, String title, String empty, int width) {
        for (String line : lines(rows, title, empty, width)) {
            out.println(line);
        }
        out.flush();
    }

    private static String describe(List<Offender> list) {
        if (list.isEmpty()) {
            return "-";
        }
        List<String> parts = new ArrayList<>();
        for (Offender o : list) {
            parts.add(o.who() + " (" + o.retransSegs() + " retrans, " + o.resets() + " resets)");
        }
        return String.join(", ", parts);
    }

    static void printJson(PrintWriter out, List<Row> rows, double seconds) {
        StringWriter buf = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(ObjectWriteContext.empty(), buf)) {
            g.writeStartObject();
            g.writeNumberProperty("window_s", seconds);
            g.writeName("endpoints");
            g.writeStartArray();
            for (Row r : rows) {
                Totals t = r.delta();
                g.writeStartObject();
                g.writeStringProperty("endpoint", r.endpoint());
                g.writeStringProperty("bus", r.bus());
                g.writeStringProperty("direction", r.direction());
                g.writeNumberProperty("live_connections", r.live());
                g.writeNumberProperty("connections_opened", t.connOpened());
                g.writeNumberProperty("connections_closed", t.connClosed());
                g.writeNumberProperty("connections_failed", t.connFailed());
                g.writeNumberProperty("bytes_sent", t.bytesSent());
                g.writeNumberProperty("bytes_received", t.bytesReceived());
                g.writeNumberProperty("bytes_sent_per_s", r.perSecond(t.bytesSent()));
                g.writeNumberProperty("bytes_received_per_s", r.perSecond(t.bytesReceived()));
                g.writeNumberProperty("segs_out", t.segsOut());
                g.writeNumberProperty("segs_in", t.segsIn());
                g.writeNumberProperty("segs_out_per_s", r.perSecond(t.segsOut()));
                g.writeNumberProperty("segs_in_per_s", r.perSecond(t.segsIn()));
                g.writeNumberProperty("retrans_segs", t.retransSegs());
                g.writeNumberProperty("retrans_ratio", t.retransRatio());
                g.writeNumberProperty("resets_sent", t.resetsSent());
                g.writeNumberProperty("resets_received", t.resetsReceived());
                g.writeNumberProperty("pressure_events", t.pressure());
                writeOffenders(g, "worst_processes", r.worstProcs());
                writeOffenders(g, "worst_peers", r.worstPeers());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.println(buf);
        out.flush();
    }

    private static void writeOffenders(JsonGenerator g, String name, List<Offender> list) {
        g.writeName(name);
        g.writeStartArray();
        for (Offender o : list) {
            g.writeStartObject();
            g.writeStringProperty("who", o.who());
            g.writeNumberProperty("retrans_segs", o.retransSegs());
            g.writeNumberProperty("resets", o.resets());
            g.writeEndObject();
        }
        g.writeEndArray();
    }
}
