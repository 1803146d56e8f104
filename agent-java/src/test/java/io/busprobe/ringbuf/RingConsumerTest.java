package io.busprobe.ringbuf;

import io.busprobe.bindings.bp_event;
import io.busprobe.event.Addresses;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.testutil.UnitEvent;
import io.busprobe.testutil.UnitRing;
import io.busprobe.testutil.UnitRing.Reservation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The ring reader's header protocol against a simulated kernel producer on plain memory. */
class RingConsumerTest {
    private static final long SIZE = 4096;

    private Arena arena;
    private UnitRing ring;
    private RingConsumer consumer;
    private final List<Got> got = new ArrayList<>();

    /** What a handler saw: where, how long, and a copy of the bytes (the memory is only valid in the call). */
    record Got(long offset, int length, byte[] bytes) {
        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private final RecordHandler collect = (data, offset, length) ->
            got.add(new Got(offset, length, data.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE)));

    @BeforeEach
    void setUp() {
        arena = Arena.ofConfined();
        ring = new UnitRing(arena, SIZE);
        consumer = new RingConsumer(ring.consumerPage, ring.producerPage, ring.data, SIZE);
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void constantsAreTheKernels() {
        assertThat(RingConsumer.BUSY).isEqualTo(UnitRing.BUSY_BIT);
        assertThat(RingConsumer.DISCARD).isEqualTo(UnitRing.DISCARD_BIT);
        assertThat(RingConsumer.HEADER).isEqualTo(UnitRing.HDR_SZ);
    }

    @Test
    void emptyRingHandsOutNothing() {
        assertThat(consumer.consume(collect, 100)).isZero();
        assertThat(got).isEmpty();
        assertThat(ring.consumerPos()).isZero();
        assertThat(consumer.pendingBytes()).isZero();
        assertThat(consumer.size()).isEqualTo(SIZE);
    }

    @Test
    void committedRecordsAreHandedOverInOrder() {
        Reservation a = ring.output(bytes("a"));
        Reservation b = ring.output(bytes("12345678"));
        Reservation c = ring.output(bytes("hello, ring!!"));
        assertThat(consumer.pendingBytes()).isEqualTo(16 + 16 + 24);

        assertThat(consumer.consume(collect, 100)).isEqualTo(3);

        assertThat(got).extracting(Got::text).containsExactly("a", "12345678", "hello, ring!!");
        assertThat(got).extracting(Got::length).containsExactly(1, 8, 13);
        assertThat(got).extracting(Got::offset).containsExactly(
                a.dataOffset(ring.mask()), b.dataOffset(ring.mask()), c.dataOffset(ring.mask()));
        assertThat(got).extracting(Got::offset).containsExactly(8L, 24L, 40L);
        assertThat(consumer.consumed()).isEqualTo(3);
        assertThat(consumer.discarded()).isZero();
        assertThat(ring.consumerPos()).as("consumer_pos published").isEqualTo(ring.producerPos()).isEqualTo(56);
        assertThat(consumer.pendingBytes()).isZero();

        assertThat(consumer.consume(collect, 100)).isZero();
        assertThat(got).hasSize(3);
    }

    @Test
    void zeroLengthRecord() {
        ring.output(new byte[0]);
        ring.output(bytes("x"));
        assertThat(consumer.consume(collect, 10)).isEqualTo(2);
        assertThat(got).extracting(Got::length).containsExactly(0, 1);
        assertThat(ring.consumerPos()).isEqualTo(8 + 16);
    }

    @Test
    void busyRecordStopsConsumptionUntilCommitted() {
        ring.output(bytes("first"));
        Reservation busy = ring.reserve(20);
        ring.output(bytes("third"));

        assertThat(consumer.consume(collect, 100)).isEqualTo(1);
        assertThat(got).extracting(Got::text).containsExactly("first");
        assertThat(ring.consumerPos()).as("stops at the busy record").isEqualTo(busy.pos());
        assertThat(consumer.pendingBytes()).isEqualTo(ring.producerPos() - busy.pos());

        assertThat(consumer.consume(collect, 100)).as("still busy").isZero();
        assertThat(ring.consumerPos()).isEqualTo(busy.pos());

        ring.write(busy, bytes("second, now written"));
        ring.commit(busy);
        assertThat(consumer.consume(collect, 100)).isEqualTo(2);
        assertThat(got).extracting(Got::text).containsExactly("first", "second, now written\0", "third");
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
        assertThat(consumer.consumed()).isEqualTo(3);
    }

    @Test
    void busyRecordThatIsThenDiscarded() {
        Reservation r = ring.reserve(8);
        ring.output(bytes("after"));
        assertThat(consumer.consume(collect, 100)).isZero();
        ring.discard(r);
        assertThat(consumer.consume(collect, 100)).isEqualTo(1);
        assertThat(got).extracting(Got::text).containsExactly("after");
        assertThat(consumer.discarded()).isEqualTo(1);
    }

    @Test
    void discardedRecordsAreSkippedAndCounted() {
        ring.output(bytes("keep1"));
        Reservation d1 = ring.reserve(30);
        ring.discard(d1);
        Reservation d2 = ring.reserve(0);
        ring.discard(d2);
        ring.output(bytes("keep2"));

        assertThat(consumer.consume(collect, 100)).as("only committed records count").isEqualTo(2);
        assertThat(got).extracting(Got::text).containsExactly("keep1", "keep2");
        assertThat(got.get(1).offset()).isEqualTo(16 + UnitRing.total(30) + UnitRing.total(0) + 8);
        assertThat(consumer.discarded()).isEqualTo(2);
        assertThat(consumer.consumed()).isEqualTo(2);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void discardsAloneAdvanceTheConsumer() {
        ring.discard(ring.reserve(100));
        ring.discard(ring.reserve(100));
        assertThat(consumer.consume(collect, 1)).isZero();
        assertThat(consumer.discarded()).isEqualTo(2);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
        assertThat(consumer.pendingBytes()).isZero();
    }

    @Test
    void limitIsHonoured() {
        for (int i = 0; i < 5; i++) {
            ring.output(bytes("r" + i));
        }
        assertThat(consumer.consume(collect, 2)).isEqualTo(2);
        assertThat(got).extracting(Got::text).containsExactly("r0", "r1");
        assertThat(ring.consumerPos()).as("progress published even when stopping at the limit").isEqualTo(32);
        assertThat(consumer.pendingBytes()).isEqualTo(3 * 16);

        assertThat(consumer.consume(collect, 1)).isEqualTo(1);
        assertThat(consumer.consume(collect, 10)).isEqualTo(2);
        assertThat(got).extracting(Got::text).containsExactly("r0", "r1", "r2", "r3", "r4");
        assertThat(consumer.consumed()).isEqualTo(5);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
    }

    @Test
    void zeroLimitConsumesNothing() {
        ring.output(bytes("x"));
        assertThat(consumer.consume(collect, 0)).isZero();
        assertThat(ring.consumerPos()).isZero();
    }

    @Test
    void pendingBytesIsProducerMinusConsumer() {
        assertThat(consumer.pendingBytes()).isZero();
        ring.output(bytes("abc"));                 // 16
        Reservation r = ring.reserve(100);         // 112, still busy: counts as pending
        assertThat(consumer.pendingBytes()).isEqualTo(16 + 112);
        consumer.consume(collect, 10);
        assertThat(consumer.pendingBytes()).isEqualTo(112);
        ring.commit(r);
        consumer.consume(collect, 10);
        assertThat(consumer.pendingBytes()).isZero();
    }

    @Test
    void recordWrappingTheEndIsContiguous() {
        ring.startAt(SIZE - 16); // header at 4080, payload from 4088 across the end
        byte[] payload = new byte[100];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) (i + 1);
        }
        ring.output(payload);
        ring.output(bytes("next"));

        assertThat(consumer.consume(collect, 10)).isEqualTo(2);
        assertThat(got.get(0).offset()).isEqualTo(SIZE - 8);
        assertThat(got.get(0).length()).isEqualTo(100);
        assertThat(got.get(0).offset() + got.get(0).length()).as("runs into the second mapping").isGreaterThan(SIZE);
        assertThat(got.get(0).bytes()).isEqualTo(payload);
        assertThat(got.get(1).text()).isEqualTo("next");
        assertThat(got.get(1).offset()).isEqualTo(UnitRing.total(100) - 16 + 8);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos()).isEqualTo(SIZE - 16 + 112 + 16);
    }

    @Test
    void wrappedEventRecordDecodesInPlace() {
        // a bp_event whose bytes straddle the end of the ring, decoded straight from the mapping
        MemorySegment tmp = arena.allocate(bp_event.layout());
        UnitEvent.at(tmp).kind(EventKind.RETRANSMIT).ts(42).task(7, 7, "broker")
                .tuple("10.0.0.1", 9092, "10.0.0.2", 51_000).retransmit(2, 0, 0, 0, 0, 1, 0);
        ring.startAt(SIZE - 64);
        ring.output(tmp.toArray(ValueLayout.JAVA_BYTE));

        EventView ev = new EventView();
        List<String> seen = new ArrayList<>();
        int n = consumer.consume((data, offset, length) -> {
            assertThat(length).isEqualTo((int) bp_event.sizeof());
            ev.wrap(data, offset);
            seen.add(ev.kind().label() + " " + ev.tsNanos() + " " + ev.comm() + " " + Addresses.source(ev) + ":"
                    + ev.sport() + " -> " + Addresses.destination(ev) + ":" + ev.dport() + " segs=" + ev.retransmitSegs());
        }, 10);
        assertThat(n).isEqualTo(1);
        assertThat(seen).containsExactly("retransmit 42 broker 10.0.0.1:9092 -> 10.0.0.2:51000 segs=2");
    }

    @Test
    void consumerPositionNeverPassesARecordBeingHandled() {
        long size = 1 << 16;
        UnitRing big = new UnitRing(arena, size);
        RingConsumer c = new RingConsumer(big.consumerPage, big.producerPage, big.data, size);
        List<Reservation> rs = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            rs.add(big.output(new byte[1000]));
        }
        List<Long> publishedDuring = new ArrayList<>();
        int[] i = {0};
        int n = c.consume((data, offset, length) -> {
            long cons = big.consumerPos();
            // the kernel may reuse everything before consumer_pos: never the record being handled
            assertThat(cons).isLessThanOrEqualTo(rs.get(i[0]).pos());
            publishedDuring.add(cons);
            i[0]++;
        }, 1000);
        assertThat(n).isEqualTo(60);
        assertThat(publishedDuring.getLast()).as("published mid-batch, at least every quarter ring")
                .isGreaterThanOrEqualTo(60 * 1008 - 1008 - size / 4);
        assertThat(big.consumerPos()).isEqualTo(big.producerPos());
    }

    /** Many laps with random sizes, discards, and a producer that only writes where the consumer freed space. */
    @Test
    void manyLapsKeepOrderAndContent() {
        Random rnd = new Random(20250101);
        long nextToWrite = 0;
        long nextToRead = 0;
        long discards = 0;
        List<Long> expectedSeq = new ArrayList<>();
        List<Long> seq = new ArrayList<>();
        RecordHandler check = (data, offset, length) -> {
            MemorySegment rec = data.asSlice(offset, length);
            long s = rec.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            for (int k = 8; k < length; k++) {
                assertThat(rec.get(ValueLayout.JAVA_BYTE, k)).isEqualTo((byte) (s + k));
            }
            seq.add(s);
        };
        for (int round = 0; round < 2000; round++) {
            int burst = 1 + rnd.nextInt(20);
            for (int k = 0; k < burst; k++) {
                int len = 8 + rnd.nextInt(300);
                Reservation r = ring.reserve(len);
                if (r == null) {
                    break; // full: the consumer must free space first
                }
                byte[] p = new byte[len];
                MemorySegment.ofArray(p).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, nextToWrite);
                for (int b = 8; b < len; b++) {
                    p[b] = (byte) (nextToWrite + b);
                }
                ring.write(r, p);
                if (rnd.nextInt(10) == 0) {
                    ring.discard(r);
                    discards++;
                } else {
                    ring.commit(r);
                    expectedSeq.add(nextToWrite);
                }
                nextToWrite++;
            }
            int n = consumer.consume(check, 1 + rnd.nextInt(30));
            nextToRead += n;
        }
        while (consumer.consume(check, 1000) > 0) {
            // drain
        }
        assertThat(ring.producerPos()).as("many laps").isGreaterThan(50 * SIZE);
        assertThat(seq).isEqualTo(expectedSeq);
        assertThat(consumer.consumed()).isEqualTo(expectedSeq.size());
        assertThat(consumer.discarded()).isEqualTo(discards);
        assertThat(ring.consumerPos()).isEqualTo(ring.producerPos());
        assertThat(nextToRead).isLessThanOrEqualTo(expectedSeq.size());
    }

    @Test
    void rejectsBadGeometry() {
        assertThatThrownBy(() -> new RingConsumer(ring.consumerPage, ring.producerPage, ring.data, 3000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("power of two");
        assertThatThrownBy(() -> new RingConsumer(ring.consumerPage, ring.producerPage,
                ring.data.asSlice(0, SIZE), SIZE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mapped twice");
    }
}
