package io.busprobe.cli;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.EndpointMaps.Name;
import io.busprobe.maps.EndpointMaps.Offender;
import io.busprobe.maps.EndpointMaps.Totals;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The endpoint table for an incident: worst first, an endpoint's rows together, human units, 120 columns. */
class EndpointViewTest {
    private static final long SECOND = 1_000_000_000L;

    private static Totals totals(long segsOut, long retrans, long bytes) {
        return new Totals(3, 1, 0, bytes, bytes / 100, segsOut, segsOut, retrans, 0, 2, 0,
                new long[EndpointMaps.LIFETIME_SLOTS], new long[EndpointMaps.RETRANS_KINDS]);
    }

    private static Totals zero() {
        return totals(0, 0, 0).minus(totals(0, 0, 0));
    }

    /** Over 10 s: quiet-bus retransmits 5 % on its server side only, big-bus 1 % but much more traffic. */
    private static List<EndpointView.Row> rows() {
        List<Name> names = List.of(new Name(0, "other", 0), new Name(1, "big-bus", BusType.KAFKA.id()),
                new Name(2, "quiet-bus", BusType.REDIS.id()));
        Map<Integer, Totals> before = new HashMap<>();
        Map<Integer, Totals> after = new HashMap<>();
        for (Name n : names) {
            for (Direction d : Direction.of(n.id())) {
                before.put(EndpointMaps.key(n.id(), d), zero());
            }
        }
        after.put(EndpointMaps.key(0, Direction.NONE), totals(1000, 0, 10_000));
        after.put(EndpointMaps.key(1, Direction.CLIENT), totals(100_000, 1000, 245_000_000));
        after.put(EndpointMaps.key(1, Direction.SERVER), totals(100_000, 10, 245_000_000));
        after.put(EndpointMaps.key(2, Direction.CLIENT), totals(1000, 0, 1_000_000));
        after.put(EndpointMaps.key(2, Direction.SERVER), totals(1000, 50, 1_000_000));
        List<Offender> procs = List.of(new Offender(2, Direction.SERVER, "4242/redis-server", 50, 0));
        return EndpointView.rows(new EndpointView.Snapshot(0, names, before, List.of(), List.of()),
                new EndpointView.Snapshot(10 * SECOND, names, after, procs, List.of()), false);
    }

    @Test
    void worstRetransmitRatioFirstThenTrafficWithAnEndpointsRowsTogether() {
        assertThat(rows()).extracting(r -> r.endpoint() + "/" + r.direction()).containsExactly(
                "quiet-bus/client", "quiet-bus/server", "big-bus/client", "big-bus/server", "other/none");
    }

    @Test
    void humanUnitsInAFrameOf120Columns() {
        List<String> lines = EndpointView.lines(rows(), "bus endpoints over the last 10 s", "none", 120);
        assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(120));
        assertThat(lines.get(1)).startsWith("ENDPOINT").contains("BUS", "OPEN/CLOSE", "TX/s", "RX SEG/s", "RETRANS",
                "PRESS");
        assertThat(lines.get(2)).startsWith("quiet-bus").contains("100 kB/s", "0.00%");
        assertThat(lines.get(3)).startsWith("quiet-bus").contains("5.00%");
        assertThat(lines.get(4)).startsWith("big-bus").contains("24.5 MB/s", "10.0k", "1.00%");
        assertThat(lines).anySatisfy(l -> assertThat(l).isEqualTo(
                "  quiet-bus/server worst processes: 4242/redis-server (50 retrans, 0 resets); worst peers: -"));
        // numbers are right-aligned under their header
        int retrans = lines.get(1).indexOf("RETRANS") + "RETRANS".length();
        assertThat(lines.subList(2, 7)).allSatisfy(l -> assertThat(l.charAt(retrans - 1)).isEqualTo('%'));
    }

    @Test
    void narrowTerminalsLoseColumnsInTheStatedOrderAndSaySo() {
        List<String> lines = EndpointView.lines(rows(), "bus endpoints over the last 10 s", "none", 80);
        assertThat(lines).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(80));
        assertThat(lines.get(1)).doesNotContain("BUS", "RX SEG/s", "TX SEG/s")
                .contains("ENDPOINT", "DIR", "RETRANS", "TX/s", "RX/s", "OPEN/CLOSE");
        assertThat(lines.getLast()).startsWith("(BUS, RX SEG/s, TX SEG/s left out to fit 80 columns");
        List<String> narrowest = EndpointView.lines(rows(), "t", "none", 20);
        assertThat(narrowest.get(1)).startsWith("ENDPOINT").contains("DIR", "RETRANS").doesNotContain("TX/s");
    }

    @Test
    void anEmptyWindowExplainsItself() {
        assertThat(EndpointView.lines(List.of(), "bus endpoints over the last 5 s", "no endpoint traffic in 5 s", 120))
                .containsExactly("bus endpoints over the last 5 s", "no endpoint traffic in 5 s");
    }

    /** Issue 15, misleading 4: --window 10s showed "over the last 9.0 s". */
    @Test
    void topsWindowIsTheWindowAskedFor() {
        TopCommand.SlidingWindow<Long> w = new TopCommand.SlidingWindow<>(Duration.ofSeconds(10), Duration.ofSeconds(1),
                t -> t);
        Long base = w.add(0L);
        for (long i = 1; i <= 30; i++) {
            long now = i * SECOND + (i % 3) * 7_000_000; // a few ms late, as a loaded machine is
            base = w.add(now);
            if (i >= 10) {
                assertThat((now - base) / 1e9).as("refresh %d", i).isBetween(9.9, 10.1);
                assertThat(w.label(now, base)).isEqualTo("10 s");
            } else {
                assertThat(w.label(now, base)).contains("the 10 s window is filling");
            }
        }
    }

    @Test
    void aLongWindowKeepsAFewHundredSnapshots() {
        TopCommand.SlidingWindow<Long> w = new TopCommand.SlidingWindow<>(Duration.ofHours(24),
                Duration.ofMillis(100), t -> t);
        long step = 100_000_000L;
        long base = 0;
        long now = 0;
        for (long i = 0; i <= 2 * 24 * 36_000; i++) {
            now = i * step;
            base = w.add(now);
        }
        assertThat((now - base) / 3600e9).isBetween(24.0, 24.05);
        assertThat(w.size()).isLessThanOrEqualTo(TopCommand.SlidingWindow.MAX_SNAPSHOTS + 2);
    }
}
