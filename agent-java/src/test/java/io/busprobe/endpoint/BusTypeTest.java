package io.busprobe.endpoint;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BusTypeTest {
    @Test
    void idsAreStableAndLabelsRoundTrip() {
        // The ids are written to kernel maps; renumbering would break a mixed-version status.
        assertThat(Arrays.stream(BusType.values()).map(b -> b.label() + "=" + b.id()))
                .containsExactly("kafka=1", "redis=2", "nats=3", "amqp=4", "http=5", "other=6");
        for (BusType b : BusType.values()) {
            assertThat(BusType.ofLabel(b.label())).isSameAs(b);
        }
    }

    @Test
    void unknownLabelListsTheChoices() {
        assertThatThrownBy(() -> BusType.ofLabel("kafak"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown bus 'kafak'; choose kafka, redis, nats, amqp, http or other");
        assertThatThrownBy(() -> BusType.ofLabel("KAFKA")).hasMessageStartingWith("unknown bus 'KAFKA'");
    }

    /** What metrics, JSON and tables call the bus and direction of an id (moved from AgentMetricsTest). */
    @Test
    void labelHelpers() {
        assertThat(BusType.labelOf(0)).as("other's bus").isEqualTo("none");
        for (BusType b : BusType.values()) {
            assertThat(BusType.labelOf(b.id())).isEqualTo(b.label());
        }
        assertThat(BusType.labelOf(99)).isEqualTo("unknown");
        assertThat(Direction.of(0)).containsExactly(Direction.NONE);
        assertThat(Direction.of(7)).containsExactly(Direction.CLIENT, Direction.SERVER);
        assertThat(Direction.SERVER.label()).isEqualTo("server");
        assertThat(Direction.ofId(Direction.CLIENT.id())).isSameAs(Direction.CLIENT);
        assertThat(Direction.ofId(9)).isSameAs(Direction.NONE);
    }

    @Test
    void directionsMatchTheKernelNumbers() {
        // BP_DIR_NONE, BP_DIR_CLIENT, BP_DIR_SERVER in bpf/events.h
        assertThat(Direction.NONE.id()).isZero();
        assertThat(Direction.CLIENT.id()).isEqualTo(1);
        assertThat(Direction.SERVER.id()).isEqualTo(2);
    }
}
