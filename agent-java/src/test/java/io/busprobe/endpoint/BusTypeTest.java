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

    @Test
    void directionsMatchTheKernelNumbers() {
        // BP_DIR_NONE, BP_DIR_CLIENT, BP_DIR_SERVER in bpf/events.h
        assertThat(Direction.NONE.id()).isZero();
        assertThat(Direction.CLIENT.id()).isEqualTo(1);
        assertThat(Direction.SERVER.id()).isEqualTo(2);
    }
}
