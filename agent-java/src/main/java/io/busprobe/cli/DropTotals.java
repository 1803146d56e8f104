package io.busprobe.cli;

import io.busprobe.bpf.DropReasons;
import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.EndpointMaps.Name;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The drop counters of {@code drop_stats} as people read them: totals by reason (the trace
 * summary's {@code drop_reasons}) and the rows of {@code busprobe drops}, one per reason, endpoint
 * and direction, between two readings. Pure functions of the cells; the commands read them.
 */
final class DropTotals {
    private DropTotals() {
    }

    /** Drops by reason name, most first; exact sums of the cells. */
    static Map<String, Long> byReason(List<DropStats.Cell> cells, DropReasons reasons) {
        Map<String, Long> sum = new HashMap<>();
        for (DropStats.Cell c : cells) {
            sum.merge(reasons.slotName(c.slot()), c.count(), Long::sum);
        }
        Map<String, Long> out = new LinkedHashMap<>();
        sum.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()
                .thenComparing(Map.Entry.comparingByKey())).forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    /** One reason on one endpoint and direction: drops in the window and since the daemon started. */
    record Row(String endpoint, String bus, String direction, String reason, boolean loss, long count, long total,
               double seconds) {
        double perSecond() {
            return seconds > 0 ? count / seconds : 0;
        }
    }

    private record Key(int endpoint, Direction direction, int slot) {
    }

    /**
     * Rows between two readings: the losses first, then by drops in the window; with {@code all},
     * also the cells that did not move in it.
     */
    static List<Row> rows(List<DropStats.Cell> before, List<DropStats.Cell> after, List<Name> names,
                          DropReasons reasons, double seconds, boolean all) {
        Map<Key, Long> base = new HashMap<>();
        before.forEach(c -> base.put(new Key(c.endpoint(), c.direction(), c.slot()), c.count()));
        Map<Integer, Name> byId = new HashMap<>();
        names.forEach(n -> byId.put(n.id(), n));
        List<Row> rows = new ArrayList<>();
        for (DropStats.Cell c : after) {
            long delta = c.count() - base.getOrDefault(new Key(c.endpoint(), c.direction(), c.slot()), 0L);
            Name n = byId.get(c.endpoint());
            if ((delta == 0 && !all) || n == null || n.name().isEmpty()) {
                continue;
            }
            rows.add(new Row(n.name(), BusType.labelOf(n.bus()), c.direction().label(), reasons.slotName(c.slot()),
                    reasons.slotLoss(c.slot()), delta, c.count(), seconds));
        }
        rows.sort(Comparator.comparing((Row r) -> !r.loss()).thenComparing(Comparator.comparingLong(Row::count)
                .reversed()).thenComparing(Comparator.comparingLong(Row::total).reversed()));
        return rows;
    }

    /** Columns of the drops table; BUS drops out first, then TOTAL, then /s. */
    static Table table() {
        return new Table(Table.left("ENDPOINT", 0), Table.left("BUS", 3), Table.left("DIR", 0),
                Table.left("REASON", 0), Table.left("LOSS", 0), Table.right("DROPS", 0), Table.right("/s", 1),
                Table.right("TOTAL", 2));
    }

    static List<String> lines(List<Row> rows, String title, String empty, int width) {
        List<String> lines = new ArrayList<>();
        lines.add(Table.fit(title, width));
        if (rows.isEmpty()) {
            lines.add(Table.fit(empty, width));
            return lines;
        }
        Table t = table();
        for (Row r : rows) {
            t.row(r.endpoint(), r.bus(), r.direction(), r.reason(), r.loss() ? "yes" : "no",
                    Long.toString(r.count()), Units.count(r.perSecond()), Long.toString(r.total()));
        }
        Table.Rendered table = t.render(width);
        lines.addAll(table.lines());
        long lost = rows.stream().filter(Row::loss).mapToLong(Row::count).sum();
        long other = rows.stream().filter(r -> !r.loss()).mapToLong(Row::count).sum();
        lines.add(Table.fit(lost + " packets lost, " + other + " dropped for reasons that are no loss", width));
        table.droppedNote(width).ifPresent(lines::add);
        return lines;
    }

    static void printJson(PrintWriter out, List<Row> rows, double seconds) {
        StringWriter buf = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(ObjectWriteContext.empty(), buf)) {
            g.writeStartObject();
            g.writeNumberProperty("window_s", seconds);
            g.writeNumberProperty("lost", rows.stream().filter(Row::loss).mapToLong(Row::count).sum());
            g.writeNumberProperty("not_lost", rows.stream().filter(r -> !r.loss()).mapToLong(Row::count).sum());
            g.writeName("drops");
            g.writeStartArray();
            for (Row r : rows) {
                g.writeStartObject();
                g.writeStringProperty("endpoint", r.endpoint());
                g.writeStringProperty("bus", r.bus());
                g.writeStringProperty("direction", r.direction());
                g.writeStringProperty("reason", r.reason());
                g.writeBooleanProperty("loss", r.loss());
                g.writeNumberProperty("drops", r.count());
                g.writeNumberProperty("drops_per_s", r.perSecond());
                g.writeNumberProperty("total", r.total());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.println(buf);
        out.flush();
    }
}
