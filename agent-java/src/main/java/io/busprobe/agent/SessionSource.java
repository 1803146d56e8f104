package io.busprobe.agent;

import io.busprobe.bpf.Probe;
import io.busprobe.maps.DropStats;
import io.busprobe.maps.RetransStats;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.endpoint.Direction;
import io.busprobe.event.EventKind;
import io.busprobe.maps.EffectiveSampling;
import io.busprobe.maps.EndpointMaps;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.TopicMaps;
import io.busprobe.maps.TopicSubscribers;
import io.busprobe.metrics.MetricsSource;
import io.busprobe.metrics.ProgramRunStats;

import java.util.List;
import java.util.Map;

/**
 * The metrics' {@link MetricsSource} over a running session: kernel maps and program info read
 * on each call, from the HTTP scrape thread.
 */
public final class SessionSource implements MetricsSource {
    private final Session session;

    public SessionSource(Session session) {
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
    public EffectiveSampling sampling(EventKind k) {
        return session.bpf().control().effective(k, session.attached(k));
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
    public long socketTableSize() {
        return session.bpf().socketTableSize();
    }

    @Override
    public long socketTableEvictions() {
        return session.bpf().socketTableEvictions();
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
    public int netnsUnreachable() {
        return session.bpf().lastRefresh().unreachable().size();
    }

    @Override
    public List<EndpointMaps.Name> endpointNames() {
        return session.bpf().endpointMaps().names();
    }

    @Override
    public EndpointMaps.Totals endpointTotals(int endpoint, Direction direction) {
        return session.bpf().endpointMaps().totals(endpoint, direction);
    }

    @Override
    public List<DropStats.Cell> drops() {
        return session.bpf().dropStats().nonZero();
    }

    @Override
    public List<TopicMaps.Row> topicRows() {
        return session.bpf().topicMaps().rows();
    }

    @Override
    public List<TopicSubscribers.Pressure> topicPressure() {
        return TopicSubscribers.byTopic(session.bpf().topicSubscribers().rows(), session.bpf().topicMaps());
    }
}
