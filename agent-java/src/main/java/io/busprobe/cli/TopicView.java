package io.busprobe.cli;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.maps.TopicSubscribers.Pressure;
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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code busprobe endpoints --by topic} and {@code top --by topic}: which topic of a bus client's
 * connections lost the segments. Two readings of the topic maps and of the endpoints' exact
 * retransmitted segments (client direction, where the tags are), turned into per-topic counts
 * over the time between them. Per endpoint the {@code top} worst topics get a row, the rest one
 * {@code other} row, so that the rows of an endpoint sum to its exact count.
 *
 * <p>The receive side beside it: for topics with subscribers on this host ({@code topic_sub}), the
 * bytes waiting unread in their sockets, how many there are and how many offered a zero window,
 * as the daemon's traffic refresh last sampled them (samples, not counts over the window). Those
 * columns join the send side's row of the same name; the {@code top} slowest subscribed topics get
 * a row of their own when they have none, the rest count under {@code other}.
 */
final class TopicView {
    /**
     * Everything read at one instant; {@code receive} the subscribers per endpoint and topic as the
     * daemon last sampled them.
     */
    record Snapshot(long nanos, List<Name> names, Map<Integer, Long> endpointRetrans, List<TopicMaps.Row> rows,
                    List<Pressure> receive) {
        static Snapshot take(EndpointMaps endpoints, TopicMaps topics, TopicSubscribers subscribers) {
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
            return new Snapshot(nanos, names, retrans, client, TopicSubscribers.byTopic(subscribers.rows(), topics));
        }
    }

    /** The subscribers of a topic on this host: bytes waiting unread, how many, how many at a zero window. */
    record Receive(long waitingBytes, int subscribers, int zeroWindow) {
        static final Receive NONE = new Receive(0, 0, 0);

        Receive plus(Receive o) {
            return new Receive(waitingBytes + o.waitingBytes, subscribers + o.subscribers, zeroWindow + o.zeroWindow);
        }

        static Receive of(Pressure p) {
            return new Receive(p.queueBytes(), p.subscribers(), p.zeroWindow());
        }
    }

    /**
     * One topic of one endpoint over the window; {@code topics} is how many it stands for (other:
     * several); {@code receive} its subscribers here, {@link Receive#NONE} when it has none.
     */
    record Row(String endpoint, String bus, String op, String topic, long retransSegs, long bytesSent,
               double share, double seconds, int topics, Receive receive) {
        double bytesPerSecond() {
            return seconds <= 0 ? bytesSent : bytesSent / seconds;
        }
    }

    /**
     * One endpoint over the window: its exact retransmitted segments, its topics' rows, and its
     * subscribers here summed over every topic.
     */
    record Endpoint(String endpoint, String bus, long retransSegs, long topicRetransSegs, List<Row> rows,
                    Receive receive) {
    }

    /**
     * Endpoints with the most retransmitted segments first (then the most bytes waiting in their
     * subscribers); each with its {@code top} worst topics and its {@code top} slowest subscribed
     * topics (a topic that is both has one row), then other.
     */
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
        Map<Integer, List<Pressure>> receiveByEndpoint = new HashMap<>();
        for (Pressure p : after.receive()) {
            receiveByEndpoint.computeIfAbsent(p.endpoint(), e -> new ArrayList<>()).add(p);
        }
        List<Endpoint> out = new ArrayList<>();
        for (Name n : after.names()) {
            List<TopicMaps.Row> rows = byEndpoint.getOrDefault(n.id(), new ArrayList<>());
            List<Pressure> receive = receiveByEndpoint.getOrDefault(n.id(), new ArrayList<>());
            Long now = after.endpointRetrans().get(n.id());
            if ((rows.isEmpty() && receive.isEmpty()) || now == null) {
                continue;
            }
            long exact = now - before.endpointRetrans().getOrDefault(n.id(), 0L);
            String bus = BusType.labelOf(n.bus());
            rows.sort(TopicMaps.WORST_FIRST);
            // a topic's subscribers, by name (the send side may have two rows of one name: NATS PUB and HPUB)
            Map<String, Pressure> subscribed = new HashMap<>();
            for (Pressure p : receive) {
                subscribed.put(p.name(), p);
            }
            // the top slowest subscribed topics get a row, with their sends if any
            receive.sort(TopicSubscribers.SLOWEST_FIRST);
            Set<String> slowest = new HashSet<>();
            for (Pressure p : receive) {
                if (slowest.size() < top) {
                    slowest.add(p.name());
                }
            }
            Set<String> joined = new HashSet<>();
            long sum = 0;
            List<Row> shown = new ArrayList<>();
            long otherRetrans = 0;
            long otherSent = 0;
            Receive otherReceive = Receive.NONE;
            Receive all = Receive.NONE;
            Set<String> folded = new HashSet<>(); // a topic both sent and subscribed to is one
            int kept = 0;
            for (TopicMaps.Row r : rows) {
                sum += r.retransSegs();
                boolean worst = r.tag() != 0 && kept < top;
                if (worst || (r.tag() != 0 && slowest.contains(r.name()))) {
                    kept += worst ? 1 : 0;
                    // its subscribers go on the first row of its name (NATS PUB and HPUB are two rows of one subject)
                    Pressure p = joined.add(r.name()) ? subscribed.get(r.name()) : null;
                    shown.add(new Row(n.name(), bus, r.op(), r.name(), r.retransSegs(), r.bytesSent(),
                            share(r.retransSegs(), exact), seconds, 1, p == null ? Receive.NONE : Receive.of(p)));
                } else {
                    otherRetrans += r.retransSegs();
                    otherSent += r.bytesSent();
                    if (r.tag() != 0) {
                        folded.add(r.name());
                    }
                }
            }
            for (Pressure p : receive) {
                Receive rx = Receive.of(p);
                all = all.plus(rx);
                if (joined.contains(p.name())) {
                    continue;
                }
                if (slowest.contains(p.name())) {
                    // subscribed here, not sent to from here in the window
                    shown.add(new Row(n.name(), bus, "", p.name(), 0, 0, 0, seconds, 1, rx));
                } else {
                    otherReceive = otherReceive.plus(rx);
                    folded.add(p.name());
                }
            }
            if (otherRetrans != 0 || otherSent != 0 || otherReceive.subscribers() != 0) {
                shown.add(new Row(n.name(), bus, "", TopicMaps.OTHER_NAME, otherRetrans, otherSent,
                        share(otherRetrans, exact), seconds, folded.size(), otherReceive));
            }
            out.add(new Endpoint(n.name(), bus, exact, sum, shown, all));
        }
        out.sort(Comparator.comparingLong((Endpoint e) -> -e.retransSegs())
                .thenComparingLong(e -> -e.receive().waitingBytes()).thenComparing(Endpoint::endpoint));
        return out;
    }

    private static double share(long part, long whole) {
        return whole == 0 ? 0 : (double) part / whole;
    }

    /**
     * Columns drop out in this order when the terminal is narrow: BUS, OP, SUBS, ZERO-WIN, TX/s,
     * SHARE, WAITING. The receive side's three ({@code receive}) only when some topic has
     * subscribers on this host.
     */
    static Table table(boolean receive) {
        List<Table.Column> columns = new ArrayList<>(List.of(Table.left("ENDPOINT", 0), Table.left("BUS", 7),
                Table.left("OP", 6), Table.left("TOPIC", 0), Table.right("RETRANS", 0), Table.right("SHARE", 2),
                Table.right("TX/s", 3)));
        if (receive) {
            columns.addAll(List.of(Table.right("WAITING", 1), Table.right("SUBS", 5), Table.right("ZERO-WIN", 4)));
        }
        return new Table(columns.toArray(Table.Column[]::new));
    }

    /** The header {@code top} shows before its first numbers: every column. */
    static Table table() {
        return table(true);
    }

    static List<String> lines(List<Endpoint> endpoints, String title, String empty, int width) {
        List<String> lines = new ArrayList<>();
        lines.add(Table.fit(title, width));
        if (endpoints.isEmpty()) {
            lines.add(Table.fit(empty, width));
            return lines;
        }
        boolean receive = endpoints.stream().anyMatch(e -> e.receive().subscribers() > 0);
        Table t = table(receive);
        for (Endpoint e : endpoints) {
            for (Row r : e.rows()) {
                String topic = r.topics() > 1 ? r.topic() + " (" + r.topics() + " topics)" : r.topic();
                Receive rx = r.receive();
                // blank, not 0, where a topic has no subscriber here (a missing cell is blank)
                if (rx.subscribers() > 0) {
                    t.row(r.endpoint(), r.bus(), r.op(), topic, Long.toString(r.retransSegs()),
                            Units.percent(r.share()), Units.bytesPerSecond(r.bytesPerSecond()),
                            Units.bytes(rx.waitingBytes()), Integer.toString(rx.subscribers()),
                            Integer.toString(rx.zeroWindow()));
                } else {
                    t.row(r.endpoint(), r.bus(), r.op(), topic, Long.toString(r.retransSegs()),
                            Units.percent(r.share()), Units.bytesPerSecond(r.bytesPerSecond()));
                }
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
                writeReceive(g, e.receive());
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
                    writeReceive(g, r.receive());
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

    /** The receive side, as the metrics name it (busprobe_topic_receive_queue_bytes, ...); 0 without subscribers. */
    private static void writeReceive(JsonGenerator g, Receive rx) {
        g.writeNumberProperty("receive_queue_bytes", rx.waitingBytes());
        g.writeNumberProperty("subscribers", rx.subscribers());
        g.writeNumberProperty("zero_window_subscribers", rx.zeroWindow());
    }
}
