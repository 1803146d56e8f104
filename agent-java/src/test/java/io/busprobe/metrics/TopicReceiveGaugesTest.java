package io.busprobe.metrics;

import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers.Pressure;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TopicReceiveGaugesTest {
    private static Pressure p(String name, int subs, long bytes, int zero) {
        return new Pressure(3, name.hashCode(), name, subs, bytes, zero);
    }

    @Test
    void theSlowestKTopicsAreShownAndTheRestAddsUpInOther() {
        List<Pressure> rows = List.of(p("a", 1, 900, 1), p("b", 2, 500, 1), p("c", 1, 10, 0), p("d", 3, 0, 0));
        assertThat(TopicReceiveGauges.shown(3, rows, 2)).containsExactly(rows.get(0), rows.get(1),
                new Pressure(3, 0, TopicMaps.OTHER_NAME, 4, 10, 0));
    }

    @Test
    void otherIsAlwaysThereAtMostKPlusOneSeries() {
        assertThat(TopicReceiveGauges.shown(5, List.of(), 50))
                .containsExactly(new Pressure(5, 0, TopicMaps.OTHER_NAME, 0, 0, 0));
        assertThat(TopicReceiveGauges.shown(3, List.of(p("a", 1, 1, 0)), 0))
                .containsExactly(new Pressure(3, 0, TopicMaps.OTHER_NAME, 1, 1, 0));
    }
}
