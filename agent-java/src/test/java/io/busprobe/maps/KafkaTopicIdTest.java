package io.busprobe.maps;

import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.RepeatedTest;

import java.nio.ByteBuffer;

import static org.assertj.core.api.Assertions.assertThat;

/** A Produce v13 topic ID, as its 16 wire bytes, reads as Kafka's own Uuid.toString() prints it. */
class KafkaTopicIdTest {
    @RepeatedTest(20)
    void wireBytesReadAsKafkaPrintsTheId() {
        Uuid id = Uuid.randomUuid();
        byte[] wire = ByteBuffer.allocate(16).putLong(id.getMostSignificantBits())
                .putLong(id.getLeastSignificantBits()).array(); // the protocol's uuid: two big-endian int64
        assertThat(TopicMaps.kafkaTopicId(wire)).isEqualTo("id:" + id);
    }
}
