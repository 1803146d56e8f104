package io.busprobe.kernel;

import io.busprobe.event.EventKind;
import io.busprobe.maps.KindStats;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Nothing is lost silently: against a deliberately tiny ring a connection storm
 * overflows it, and still every hit is counted and every committed record read.
 */
@Privileged
class AccountingTest {
    @Test
    void recordsReadPlusDropsEqualRecordsAttemptedUnderOverflow() {
        Map<EventKind, KindStats> stats;
        long read;
        try (LiveSession live = LiveSession.start(4096)) {
            // ~2000 short loopback connections: ~16k state events into a 4 KiB ring (~30 records)
            Sh.run(60, "python3", "-c", """
                    import socket
                    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(512)
                    for _ in range(2000):
                        c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.close(); a.close()
                    """);
            stats = live.finish();
            read = live.session().ring().recordsRead();
            long readState = live.events().count(EventKind.STATE);
            KindStats state = stats.get(EventKind.STATE);
            assertThat(state.seen()).isGreaterThanOrEqualTo(2000 * 8);
            assertThat(state.dropped()).as("a 4 KiB ring must overflow").isPositive();
            assertThat(readState).as("state records read == submitted").isEqualTo(state.submitted());
        }
        long submitted = stats.values().stream().mapToLong(KindStats::submitted).sum();
        assertThat(read).as("records read == records committed, all kinds").isEqualTo(submitted);
        assertThat(stats.values()).allSatisfy(k -> assertThat(k.balanced())
                .as("seen == sampled_out + rate_limited + submitted + dropped: %s", k).isTrue());
    }
}
