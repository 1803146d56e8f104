package io.busprobe.cli;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers.Pressure;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code endpoints --by topic}: the send side's rows per topic, and beside them the receive side,
 * the bytes waiting in this host's subscribers of each topic.
 */
class TopicViewTest {
    private static final long SECOND = 1_000_000_000L;
    private static final List<Name> NAMES = List.of(new Name(0, "other", 0),
            new Name(1, "orders-nats", BusType.NATS.id()), new Name(2, "cache-redis", BusType.REDIS.id()));

    private static TopicMaps.Row sent(int endpoint, long tag, String name, String op, long retrans, long bytes) {
        return new TopicMaps.Row(endpoint, Direction.CLIENT, tag, name, op, retrans, bytes);
    }

    /**
     * Over 10 s on orders-nats: orders.slow published (PUB and HPUB, two rows of one subject) and
     * subscribed to by one reader that stopped; orders.fast published and read; audit only
     * subscribed to. cache-redis: only a subscriber, nothing sent.
     */
    private static List<TopicView.Endpoint> endpoints(int top) {
        var before = new TopicView.Snapshot(0, NAMES, Map.of(1, 100L, 2, 0L), List.of(
                sent(1, 11, "orders.slow", "pub", 0, 0), sent(1, 12, "orders.slow", "hpub", 0, 0)), List.of());
        var after = new TopicView.Snapshot(10 * SECOND, NAMES, Map.of(1, 110L, 2, 0L), List.of(
                sent(1, 11, "orders.slow", "pub", 6, 2_000_000), sent(1, 12, "orders.slow", "hpub", 1, 100_000),
                sent(1, 13, "orders.fast", "pub", 3, 2_000_000), sent(1, 0, TopicMaps.OTHER_NAME, "", 0, 500)),
                List.of(new Pressure(1, 11, "orders.slow", 1, 125_552, 1), new Pressure(1, 21, "audit", 2, 4_000, 0),
                        new Pressure(1, 13, "orders.fast", 1, 0, 0), new Pressure(2, 31, "ch-slow", 1, 121_567, 1)));
        return TopicView.endpoints(before, after, top);
    }

    @Test
    void aTopicsSubscribersJoinTheFirstRowOfItsName() {
        List<TopicView.Endpoint> eps = endpoints(20);
        assertThat(eps).extracting(TopicView.Endpoint::endpoint).containsExactly("orders-nats", "cache-redis");
        TopicView.Endpoint nats = eps.getFirst();
        assertThat(nats.rows()).extracting(r -> r.op() + "/" + r.topic() + "/" + r.receive())
                .containsExactly("pub/orders.slow/" + new TopicView.Receive(125_552, 1, 1),
                        "pub/orders.fast/" + new TopicView.Receive(0, 1, 0),
                        "hpub/orders.slow/" + TopicView.Receive.NONE,
                        "/audit/" + new TopicView.Receive(4_000, 2, 0),
                        "/other/" + TopicView.Receive.NONE);
        assertThat(nats.receive()).isEqualTo(new TopicView.Receive(129_552, 4, 1));
        // the send side as it was: the rows sum to the endpoint's exact count
        assertThat(nats.retransSegs()).isEqualTo(10);
        assertThat(nats.rows().stream().mapToLong(TopicView.Row::retransSegs).sum()).isEqualTo(10);
        TopicView.Endpoint redis = eps.get(1);
        assertThat(redis.rows()).singleElement().satisfies(r -> {
            assertThat(r.topic()).isEqualTo("ch-slow");
            assertThat(r.retransSegs()).isZero();
            assertThat(r.receive()).isEqualTo(new TopicView.Receive(121_567, 1, 1));
        });
    }

    @Test
    void beyondTopTheSlowestSubscribedTopicsKeepARowAndTheRestFoldIntoOther() {
        // top 1: orders.slow is both the worst sent and the slowest subscribed; orders.fast and audit fold
        TopicView.Endpoint nats = endpoints(1).getFirst();
        assertThat(nats.rows()).extracting(TopicView.Row::op, TopicView.Row::topic).containsExactly(
                org.assertj.core.groups.Tuple.tuple("pub", "orders.slow"),
                org.assertj.core.groups.Tuple.tuple("hpub", "orders.slow"),
                org.assertj.core.groups.Tuple.tuple("", "other"));
        TopicView.Row other = nats.rows().getLast();
        assertThat(other.retransSegs()).isEqualTo(3);
        assertThat(other.topics()).as("orders.fast (sent and subscribed) and audit").isEqualTo(2);
        assertThat(other.receive()).isEqualTo(new TopicView.Receive(4_000, 3, 0));
    }

    @Test
    void theTableShowsWaitingSubsAndZeroWindowBlankWhereATopicHasNoSubscriberHere() {
        List<String> lines = TopicView.lines(endpoints(20), "topics", "none", 200);
        assertThat(lines.get(1).split("\\s+")).containsExactly("ENDPOINT", "BUS", "OP", "TOPIC", "RETRANS", "SHARE",
                "TX/s", "WAITING", "SUBS", "ZERO-WIN");
        assertThat(lines.get(2).split("\\s+")).containsExactly("orders-nats", "nats", "pub", "orders.slow", "6",
                "60.00%", "200", "kB/s", "126", "kB", "1", "1");
        assertThat(lines.get(4).split("\\s+")).as("no subscriber of this row: blank").containsExactly("orders-nats",
                "nats", "hpub", "orders.slow", "1", "10.00%", "10.0", "kB/s");
        assertThat(lines.get(7).split("\\s+")).containsExactly("cache-redis", "redis", "ch-slow", "0", "0.00%", "0",
                "B/s", "122", "kB", "1", "1");
    }

    @Test
    void narrowTerminalsDropTheReceiveCountsBeforeWaiting() {
        List<String> lines = TopicView.lines(endpoints(20), "topics", "none", 50);
        assertThat(lines.get(1).split("\\s+")).containsExactly("ENDPOINT", "TOPIC", "RETRANS", "SHARE", "WAITING");
        assertThat(lines.getLast()).startsWith("(BUS, OP, SUBS, ZERO-WIN, TX/s left out");
        assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(50));
    }

    @Test
    void withoutSubscribersTheReceiveColumnsAreNotShown() {
        var before = new TopicView.Snapshot(0, NAMES, Map.of(1, 0L), List.of(), List.of());
        var after = new TopicView.Snapshot(SECOND, NAMES, Map.of(1, 2L), List.of(sent(1, 13, "orders.fast", "pub", 2,
                1000)), List.of());
        List<String> lines = TopicView.lines(TopicView.endpoints(before, after, 20), "topics", "none", 200);
        assertThat(lines.get(1).split("\\s+")).containsExactly("ENDPOINT", "BUS", "OP", "TOPIC", "RETRANS", "SHARE",
                "TX/s");
    }

    @Test
    void jsonCarriesTheReceiveSideUnderTheMetricsNames() {
        StringWriter buf = new StringWriter();
        TopicView.printJson(new PrintWriter(buf), endpoints(20), 10);
        String json = buf.toString();
        assertThat(json).contains("\"endpoint\":\"orders-nats\"", "\"receive_queue_bytes\":129552,\"subscribers\":4,"
                        + "\"zero_window_subscribers\":1",
                "\"topic\":\"orders.slow\",\"op\":\"pub\"",
                "\"bytes_sent_per_s\":200000.0,\"receive_queue_bytes\":125552,\"subscribers\":1,"
                        + "\"zero_window_subscribers\":1",
                "\"topic\":\"audit\",\"op\":\"\",\"topics\":1,\"retrans_segs\":0");
    }
}
