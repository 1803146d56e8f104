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
    void errnoNamesTheCapability() {
        assertThat(NetNamespaces.missingCapability(-13)).isEqualTo("CAP_SYS_PTRACE"); // EACCES: ptrace access check
        assertThat(NetNamespaces.missingCapability(-1)).isEqualTo("CAP_SYS_ADMIN"); // EPERM: setns
        assertThat(NetNamespaces.missingCapability(-3)).isNull(); // ESRCH: gone, rescan
    }
}
