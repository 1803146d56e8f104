package io.busprobe.agent;

import io.busprobe.event.EventKind;
import io.busprobe.maps.KindStats;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Drops come with what to raise, by how much. */
class DropAdviceTest {
    private static Map<EventKind, KindStats> stats(long stateSubmitted, long stateDropped, long resetSubmitted) {
        Map<EventKind, KindStats> m = new EnumMap<>(EventKind.class);
        for (EventKind k : EventKind.values()) {
            m.put(k, new KindStats(0, 0, 0, 0, 0, 0));
        }
        m.put(EventKind.STATE, new KindStats(stateSubmitted + stateDropped, 0, 0, stateSubmitted, stateDropped, 0));
        m.put(EventKind.RESET_SENT, new KindStats(resetSubmitted, 0, 0, resetSubmitted, 0, 0));
        return m;
    }

    @Test
    void nothingDroppedNoAdvice() {
        DropAdvice drops = new DropAdvice(Map.of());
        assertThat(drops.since(stats(100, 0, 5), 8 << 20, k -> 1)).isNull();
    }

    @Test
    void adviceScalesWithWhatWasLostAndOnlyCountsTheInterval() {
        DropAdvice drops = new DropAdvice(Map.of());
        // 1000 tried, 250 taken: sample 1 in 4, or a ring 8 times larger
        DropAdvice.Advice a = drops.since(stats(240, 750, 10), 4096, k -> 1);
        assertThat(a.forDaemon()).isEqualTo("750 of 1000 records dropped (ring full; the counters are exact): "
                + "raise --ring-size to 32K (8x), or thin the noisiest kind: busprobe sample --kind state --every 4");
        assertThat(a.forTrace()).contains("raise --ring-size to 32K (8x)", "trace fewer families (--kinds)");
        assertThat(drops.since(stats(240, 750, 10), 4096, k -> 1)).as("nothing new").isNull();
        // the next interval: 10 more dropped of 110; the operator's 1/4 already
        DropAdvice.Advice b = drops.since(stats(340, 760, 10), 4096, k -> 4);
        assertThat(b.forDaemon()).startsWith("10 of 110 records dropped").endsWith("--kind state --every 8");
    }

    @Test
    void aRingAtItsLargestIsNotRaisedAndAKindSharingItsFamilysNameIsQualified() {
        Map<EventKind, KindStats> m = new EnumMap<>(EventKind.class);
        m.put(EventKind.RETRANSMIT, new KindStats(100, 0, 0, 50, 50, 50));
        DropAdvice.Advice a = new DropAdvice(Map.of()).since(m, 1L << 30, k -> 1);
        assertThat(a.forDaemon()).doesNotContain("--ring-size").endsWith("--kind kind:retransmit --every 2");
    }
}
