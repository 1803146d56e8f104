package io.busprobe.cli;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.TopicMaps;
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
 * {@code busprobe endpoints --by topic} and {@code top --by topic}: which topic of a bus client's
 * connections lost the segments. Two readings of the topic maps and of the endpoints' exact
 * retransmitted segments (client direction, where the tags are), turned into per-topic counts
 * over the time between them. Per endpoint the {@code top} worst topics get a row, the rest one
 * {@code other} row, so that the rows of an endpoint sum to its exact count.
 */
final class TopicView {
    /** Everything read at one instant. */
    record Snapshot(long nanos, List<Name> names, Map<Integer, Long> endpointRetrans, List<TopicMaps.Row> rows) {
        static Snapshot take(EndpointMaps endpoints, TopicMaps topics) {
            long nanos = System.nanoTime();
            List<Name> names = endpoints.names();
            Map<Integer, Long> retrans = new HashMap<>();
            for (Name n : names) {
                if (n.id() != 0 && !n.name().isEmpty()) {
                    retrans.put(n.id(), endpoints.totals(n.id(), Direction.CLIENT).retransSegs());
                }
            }
            List<TopicMaps.Row> client = topics.rows().stream().filter(r -> r.direction() == Direction.CLIENT)
                    .toList();
            return new Snapshot(nanos, names, retrans, client);
        }
    }

    /** One topic of one endpoint over the window; {@code topics} is how many it stands for (other: several). */
    record Row(String endpoint, String bus, String op, String topic, long retransSegs, long bytesSent,
               double share, double seconds, int topics) {
        double bytesPerSecond() {
            return seconds <= 0 ? bytesSent : bytesSent / seconds;
        }
    }

    /** One endpoint over the window: its exact retransmitted segments, and its topics' rows. */
    record Endpoint(String endpoint, String bus, long retransSegs, long topicRetransSegs, List<Row> rows) {
    }

    /** Endpoints with the most retransmitted segments first; each with its worst topics, then other. */
    static List<Endpoint> endpoints(Snapshot before, Snapshot after, int top) {
        double seconds = (after.nanos() - before.nanos()) / 1e9;
        Map<Integer, List<TopicMaps.Row>> byEndpoint = new HashMap<>();
        Map<String, TopicMaps.Row> then = new HashMap<>();
        for (TopicMaps.Row r : before.rows()) {
            then.put(r.endpoint() + "/" + r.tag(), r);
        }
        for (TopicMaps.Row r : after.rows()) {
            TopicMaps.Row b = then.get(r.endpoint() + "/" + r.tag());
            long retrans = r.retransSegs() - (b == null ? 0 : b.retransSegs());
            long sent = r.bytesSent() - (b == null ? 0 : b.bytesSent());
            if (retrans != 0 || sent != 0) {
                byEndpoint.computeIfAbsent(r.endpoint(), e -> new ArrayList<>()).add(new TopicMaps.Row(r.endpoint(),
                        r.direction(), r.tag(), r.name(), r.op(), retrans, sent));
            }
        }
        List<Endpoint> out = new ArrayList<>();
        for (Name n : after.names()) {
            List<TopicMaps.Row> rows = byEndpoint.get(n.id());
            Long now = after.endpointRetrans().get(n.id());
            if (rows == null || now == null) {
                continue;
            }
            long exact = now - before.endpointRetrans().getOrDefault(n.id(), 0L);
            String bus = BusType.labelOf(n.bus());
            rows.sort(TopicMaps.WORST_FIRST);
            long sum = 0;
            List<Row> shown = new ArrayList<>();
            long otherRetrans = 0;
            long otherSent = 0;
            int folded = 0;
            int kept = 0;
            for (TopicMaps.Row r : rows) {
                sum += r.retransSegs();
                if (r.tag() != 0 && kept < top) {
                    kept++;
                    shown.add(new Row(n.name(), bus, r.op(), r.name(), r.retransSegs(), r.bytesSent(),
                            share(r.retransSegs(), exact), seconds, 1));
                } else {
                    otherRetrans += r.retransSegs();
                    otherSent += r.bytesSent();
                    folded += r.tag() == 0 ? 0 : 1;
                }
            }
            if (otherRetrans != 0 || otherSent != 0) {
                shown.add(new Row(n.name(), bus, "", TopicMaps.OTHER_NAME, otherRetrans, otherSent,
                        share(otherRetrans, exact), seconds, folded));
            }
            out.add(new Endpoint(n.name(), bus, exact, sum, shown));
        }
        out.sort(Comparator.comparingLong((Endpoint e) -> -e.retransSegs()).thenComparing(Endpoint::endpoint));
        return out;
    }

    private static double share(long part, long whole) {
        return whole == 0 ? 0 : (double) part / whole;
    }

    /** Columns drop out in this order when the terminal is narrow: BUS, OP, TX/s, SHARE. */
    static Table table() {
        return new Table(Table.left("ENDPOINT", 0), Table.left("BUS", 4), Table.left("OP", 3),
                Table.left("TOPIC", 0), Table.right("RETRANS", 0), Table.right("SHARE", 1), Table.right("TX/s", 2));
    }

    static List<String> lines(List<Endpoint> endpoints, String title, String empty, int width) {
        List<String> lines = new ArrayList<>();
        lines.add(Table.fit(title, width));
        if (endpoints.isEmpty()) {
            lines.add(Table.fit(empty, width));
            return lines;
        }
        Table t = table();
        for (Endpoint e : endpoints) {
            for (Row r : e.rows()) {
                String topic = r.topics() > 1 ? r.topic() + " (" + r.topics() + " topics)" : r.topic();
                t.row(r.endpoint(), r.bus(), r.op(), topic, Long.toString(r.retransSegs()), Units.percent(r.share()),
                        Units.bytesPerSecond(r.bytesPerSecond()));
            }
        }
        Table.Rendered table = t.render(width);
        lines.addAll(table.lines());
        for (Endpoint e : endpoints) {
            if (e.retransSegs() != e.topicRetransSegs()) {
                lines.add(Table.fit("  " + e.endpoint() + ": " + e.retransSegs() + " retransmitted segments, "
                        + e.topicRetransSegs() + " charged to topics (counted while the maps were read)", width));
            }
        }
        table.droppedNote(width).ifPresent(lines::add);
        return lines;
    }

    static void printTable(PrintWriter out, List<Endpoint> endpoints, String title, String empty, int width) {
        for (String line : lines(endpoints, title, empty, width)) {
            out.println(line);
        }
        out.flush();
    }

    static void printJson(PrintWriter out, List<Endpoint> endpoints, double seconds) {
        StringWriter buf = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(ObjectWriteContext.empty(), buf)) {
            g.writeStartObject();
            g.writeNumberProperty("window_s", seconds);
            g.writeName("endpoints");
            g.writeStartArray();
            for (Endpoint e : endpoints) {
                g.writeStartObject();
                g.writeStringProperty("endpoint", e.endpoint());
                g.writeStringProperty("bus", e.bus());
                g.writeStringProperty("direction", Direction.CLIENT.label());
                g.writeNumberProperty("retrans_segs", e.retransSegs());
                g.writeNumberProperty("topic_retrans_segs", e.topicRetransSegs());
                g.writeName("topics");
                g.writeStartArray();
                for (Row r : e.rows()) {
                    g.writeStartObject();
                    g.writeStringProperty("topic", r.topic());
                    g.writeStringProperty("op", r.op());
                    g.writeNumberProperty("topics", r.topics());
                    g.writeNumberProperty("retrans_segs", r.retransSegs());
                    g.writeNumberProperty("retrans_share", r.share());
                    g.writeNumberProperty("bytes_sent", r.bytesSent());
                    g.writeNumberProperty("bytes_sent_per_s", r.bytesPerSecond());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.println(buf);
        out.flush();
    }
}
