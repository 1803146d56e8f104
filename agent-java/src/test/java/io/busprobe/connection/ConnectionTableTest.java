package io.busprobe.connection;

import io.busprobe.bindings.bp_event;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.testutil.UnitEvent;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ConnectionTableTest {
    private static final int ESTABLISHED = 1;
    private static final int SYN_SENT = 2;
    private static final int FIN_WAIT2 = 5;
    private static final int CLOSE = 7;

    private final Arena arena = Arena.ofAuto();
    private final MemorySegment rec = arena.allocate(bp_event.layout());
    private final EventView view = new EventView();
    private final List<ConnectionTable.Closed> closed = new ArrayList<>();
    private final ConnectionTable table = new ConnectionTable(closed::add);

    private void state(long cookie, long ts, int from, int to) {
        rec.fill((byte) 0);
        UnitEvent.at(rec).kind(EventKind.STATE).cookie(cookie).ts(ts).task(42, 42, "pub")
                .tuple("10.0.0.2", 40000, "10.0.0.1", 6379).stateChange(from, to);
        table.onEvent(view.wrap(rec, 0));
    }

    private void retransmit(long cookie, int segs) {
        rec.fill((byte) 0);
        UnitEvent.at(rec).kind(EventKind.RETRANSMIT).cookie(cookie).retransmit(segs, 0, 0, 0, 0, 1, 0);
        table.onEvent(view.wrap(rec, 0));
    }

    @Test
    void tracksFromEstablishedToCloseAndReportsTheLife() {
        state(7, 1_000, SYN_SENT, ESTABLISHED);
        retransmit(7, 3);
        assertThat(table.size()).isEqualTo(1);
        state(7, 5_000, FIN_WAIT2, CLOSE);
        assertThat(table.size()).isZero();
        assertThat(closed).singleElement().satisfies(c -> {
            assertThat(c.cookie()).isEqualTo(7);
            assertThat(c.durationNanos()).as("from the table when the kernel had no start").isEqualTo(4_000);
            assertThat(c.dport()).isEqualTo(6379);
            assertThat(c.pid()).isEqualTo(42);
        });
    }

    @Test
    void failedConnectionsLeaveNoRecord() {
        state(9, 1_000, SYN_SENT, CLOSE);
        assertThat(closed).isEmpty();
        assertThat(table.size()).isZero();
    }

    @Test
    void removalKeepsEveryOtherEntryFindable() {
        for (long c = 1; c <= 5000; c++) {
            state(c, c, SYN_SENT, ESTABLISHED);
        }
        for (long c = 1; c <= 5000; c += 2) {
            state(c, 10_000, FIN_WAIT2, CLOSE);
        }
        assertThat(table.size()).isEqualTo(2500);
        for (long c = 2; c <= 5000; c += 2) {
            state(c, 10_000, FIN_WAIT2, CLOSE);
        }
        assertThat(closed).hasSize(5000);
        assertThat(table.size()).isZero();
    }
}
