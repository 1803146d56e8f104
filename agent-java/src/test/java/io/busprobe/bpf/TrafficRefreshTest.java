package io.busprobe.bpf;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The report of namespaces a refresh could not enter: what the log line says, and when it is news. */
class TrafficRefreshTest {
    private static TrafficRefresh.Unreachable u(long key, int pid, String cap) {
        return new TrafficRefresh.Unreachable(key, pid, cap);
    }

    @Test
    void theLineCountsTheNamespacesNamesTheirProcessesAndTheMissingCapabilities() {
        TrafficRefresh r = new TrafficRefresh(9, List.of(u(1, 101, "CAP_SYS_PTRACE"), u(2, 202, "CAP_SYS_ADMIN"),
                u(3, 303, "CAP_SYS_PTRACE"), u(4, 404, "CAP_SYS_PTRACE"), u(5, 505, "CAP_SYS_PTRACE"),
                u(6, 606, "CAP_SYS_PTRACE")));
        assertThat(r.problem()).startsWith("cannot count endpoint traffic in 6 of 9 network namespaces "
                + "(processes 101, 202, 303, 404, 505, ...): busprobe lacks CAP_SYS_ADMIN and CAP_SYS_PTRACE (")
                .contains("busprobe_netns_unreachable");
        assertThat(r.missingCapabilities()).containsExactly("CAP_SYS_ADMIN", "CAP_SYS_PTRACE");
    }

    @Test
    void theSameNamespacesLackingTheSameCapabilityAreTheSameProblemWhateverTheirProcesses() {
        TrafficRefresh a = new TrafficRefresh(3, List.of(u(1, 101, "CAP_SYS_PTRACE")));
        TrafficRefresh samePlaceOtherPid = new TrafficRefresh(4, List.of(u(1, 111, "CAP_SYS_PTRACE")));
        TrafficRefresh another = new TrafficRefresh(4, List.of(u(1, 101, "CAP_SYS_PTRACE"), u(2, 202, "CAP_SYS_PTRACE")));
        assertThat(samePlaceOtherPid.problemKey()).isEqualTo(a.problemKey());
        assertThat(another.problemKey()).isNotEqualTo(a.problemKey());
        assertThat(TrafficRefresh.NONE.problemKey()).isEmpty();
    }

    @Test
    void theLogSaysWhatIsNewOnlyNotANamespaceThatComesBackIntoSight() {
        TrafficRefresh.Log news = new TrafficRefresh.Log();
        TrafficRefresh a = new TrafficRefresh(3, List.of(u(1, 101, "CAP_SYS_ADMIN")));
        TrafficRefresh ab = new TrafficRefresh(4, List.of(u(1, 101, "CAP_SYS_ADMIN"), u(2, 202, "CAP_SYS_ADMIN")));
        TrafficRefresh abLater = new TrafficRefresh(4, List.of(u(1, 111, "CAP_SYS_ADMIN"), u(2, 222, "CAP_SYS_ADMIN")));
        TrafficRefresh ac = new TrafficRefresh(4, List.of(u(1, 101, "CAP_SYS_ADMIN"), u(3, 303, "CAP_SYS_ADMIN")));
        TrafficRefresh aPtrace = new TrafficRefresh(3, List.of(u(1, 101, "CAP_SYS_PTRACE")));

        assertThat(news.next(TrafficRefresh.NONE)).as("all counted from the start").isNull();
        assertThat(news.next(a)).isEqualTo(a.problem());
        assertThat(news.next(a)).isNull();
        assertThat(news.next(ab)).as("a namespace the line did not name").isEqualTo(ab.problem());
        // namespace 2's only process exits, another starts there: out of sight, back, other pids
        assertThat(news.next(a)).isNull();
        assertThat(news.next(abLater)).isNull();
        assertThat(news.next(ac)).as("namespace 3 is new").isEqualTo(ac.problem());
        assertThat(news.next(ab)).as("2 was not in the last line").isEqualTo(ab.problem());
        assertThat(news.next(aPtrace)).as("the same namespace, another capability").isEqualTo(aPtrace.problem());
        assertThat(news.next(TrafficRefresh.NONE)).isEqualTo("endpoint traffic counted in every network namespace again");
        assertThat(news.next(TrafficRefresh.NONE)).isNull();
        assertThat(news.next(a)).as("after all were counted, any is news").isEqualTo(a.problem());
    }

    @Test
    void errnoNamesTheCapability() {
        assertThat(NetNamespaces.missingCapability(-13)).isEqualTo("CAP_SYS_PTRACE"); // EACCES: ptrace access check
        assertThat(NetNamespaces.missingCapability(-1)).isEqualTo("CAP_SYS_ADMIN"); // EPERM: setns
        assertThat(NetNamespaces.missingCapability(-3)).isNull(); // ESRCH: gone, rescan
    }
}
