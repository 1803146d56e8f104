package io.busprobe.metrics;

import io.busprobe.agent.Session;
import io.busprobe.bpf.KindStats;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.RetransStats;
import io.busprobe.control.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;

import java.util.List;
import java.util.Map;

/** {@link MetricsSource} over a running session: kernel maps and program info read on each call. */
final class SessionSource implements MetricsSource {
    private final Session session;

    SessionSource(Session session) {
        this.session = session;
    }

    @Override
    public Map<EventKind, KindStats> kindStats() {
        return session.stats();
    }

    @Override
    public RetransStats retransStats(int trigger) {
        return session.bpf().retransStats(trigger);
    }

    @Override
    public boolean attached(Probe p) {
        return session.bpf().programFd(p) >= 0;
    }

    @Override
    public ProgramRunStats programStats(Probe p) {
        int fd = session.bpf().programFd(p);
        return fd < 0 ? null : ProgramRunStats.read(fd);
    }

    @Override
    public long ringSizeBytes() {
        return session.ring().size();
    }

    @Override
    public long ringPendingBytes() {
        return session.ring().pendingBytes();
    }

    @Override
    public long recordsRead() {
        return session.ring().recordsRead();
    }

    @Override
    public long recordsDiscarded() {
        return session.ring().recordsDiscarded();
    }

    @Override
    public List<EndpointMaps.Name> endpointNames() {
        return session.bpf().endpointMaps().names();
    }

    @Override
    public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
        return session.bpf().endpointMaps().totals(endpoint, direction);
    }
}
