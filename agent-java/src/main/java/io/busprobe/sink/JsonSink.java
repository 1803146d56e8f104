package io.busprobe.sink;

import io.busprobe.bpf.DropReasons;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.connection.ConnectionTable;
import io.busprobe.event.Addresses;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.event.RetransKind;
import io.busprobe.event.TcpState;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.TopicMaps;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.json.JsonFactory;

import java.io.OutputStream;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * One JSON object per line: {@code {"type":"event",...}} for each event and a
 * final {@code {"type":"summary",...}}. Streams through Jackson's generator,
 * no intermediate objects.
 */
public final class JsonSink implements EventSink {
    private final JsonGenerator gen;
    private final EndpointNames endpoints;
    private final LongFunction<TopicMaps.Name> topics;

    /**
     * @param topics the name and op of a retransmit record's topic tag ({@link TopicMaps#name}), the
     *               session's topic table
     */
    public JsonSink(OutputStream out, EndpointNames endpoints, LongFunction<TopicMaps.Name> topics) {
        this.endpoints = endpoints;
        this.topics = topics;
        // one object per line: the newline is written explicitly, so no root separator
        JsonFactory factory = JsonFactory.builder().rootValueSeparator((String) null).build();
        this.gen = factory.createGenerator(ObjectWriteContext.empty(), out);
    }

    @Override
    public void event(EventView ev) {
        EventKind kind = ev.kind();
        gen.writeStartObject();
        gen.writeStringProperty("type", "event");
        gen.writeStringProperty("kind", kind == null ? "unknown_" + ev.kindId() : kind.label());
        gen.writeNumberProperty("ts_ns", ev.tsNanos());
        gen.writeStringProperty("family", Addresses.familyName(ev.family()));
        gen.writeStringProperty("saddr", Addresses.source(ev));
        gen.writeNumberProperty("sport", ev.sport());
        gen.writeStringProperty("daddr", Addresses.destination(ev));
        gen.writeNumberProperty("dport", ev.dport());
        gen.writeStringProperty("state", TcpState.name(ev.state()));
        gen.writeNumberProperty("pid", ev.pid());
        gen.writeNumberProperty("tid", ev.tid());
        gen.writeStringProperty("comm", ev.comm());
        gen.writeBooleanProperty("task_valid", ev.taskValid());
        gen.writeBooleanProperty("owner", ev.ownerKnown());
        gen.writeNumberProperty("cgroup_id", ev.cgroupId());
        gen.writeStringProperty("endpoint", endpoints.name(ev.endpoint()));
        gen.writeStringProperty("bus", endpoints.bus(ev.endpoint()));
        gen.writeStringProperty("direction", EndpointNames.direction(ev.direction()));
        gen.writeNumberProperty("netns", ev.netns());
        gen.writeNumberProperty("sock_cookie", ev.sockCookie());
        gen.writeNumberProperty("protocol", ev.protocol());
        if (kind != null) {
            switch (kind) {
                case RETRANSMIT, RETRANSMIT_SYNACK, RETRANSMIT_FAILED -> {
                    gen.writeNumberProperty("segs", ev.retransmitSegs());
                    gen.writeNumberProperty("seq", ev.retransmitSeq());
                    gen.writeNumberProperty("end_seq", ev.retransmitEndSeq());
                    gen.writeStringProperty("retrans_kind", RetransKind.name(ev.retransmitKind()));
                    gen.writeNumberProperty("err", ev.retransmitErr());
                    gen.writeNumberProperty("srtt_us", ev.srttMicros());
                    gen.writeNumberProperty("snd_cwnd", ev.sndCwnd());
                    gen.writeNumberProperty("total_retrans", ev.totalRetrans());
                    gen.writeNumberProperty("ca_state", ev.caState());
                    // the bus topic whose bytes the segment resent (issue 14); "other" when no send was tagged
                    TopicMaps.Name topic = topics.apply(ev.retransmitTopic());
                    gen.writeStringProperty("topic", topic.name());
                    if (topic.op().isEmpty()) {
                        gen.writeNullProperty("op");
                    } else {
                        gen.writeStringProperty("op", topic.op());
                    }
                    if (ev.hasCause()) {
                        gen.writeStringProperty("cause", DropReasons.running().name(ev.causeReason()));
                        gen.writeNumberProperty("cause_netns", ev.causeNetns());
                    } else {
                        gen.writeStringProperty("cause", "unseen");
                    }
                }
                case STATE -> {
                    gen.writeStringProperty("old_state", TcpState.name(ev.oldState()));
                    gen.writeStringProperty("new_state", TcpState.name(ev.newState()));
                    gen.writeNumberProperty("total_retrans", ev.stateTotalRetrans());
                    gen.writeNumberProperty("bytes_sent", ev.stateBytesSent());
                    gen.writeNumberProperty("bytes_received", ev.stateBytesReceived());
                    gen.writeNumberProperty("segs_out", ev.stateSegsOut());
                    gen.writeNumberProperty("segs_in", ev.stateSegsIn());
                    gen.writeNumberProperty("duration_ns", ev.stateDurationNanos());
                }
                case RESET_SENT, RESET_RECEIVED -> gen.writeNumberProperty("reason", ev.resetReason());
                case DROP -> {
                    DropReasons reasons = DropReasons.running();
                    int reason = ev.dropReason();
                    gen.writeStringProperty("reason", reasons.name(reason));
                    gen.writeNumberProperty("reason_code", Integer.toUnsignedLong(reason));
                    gen.writeBooleanProperty("loss", reasons.loss(reason));
                    gen.writeStringProperty("path", ev.dropReceived() ? "rx" : "tx");
                    gen.writeNumberProperty("ifindex", ev.dropIfindex());
                    gen.writeStringProperty("location", "0x" + Long.toHexString(ev.dropLocation()));
                }
                case RCVQUEUE_FULL, EXCEED_BUF_LIMIT -> {
                    gen.writeNumberProperty("rmem_alloc", ev.rmemAlloc());
                    gen.writeNumberProperty("rcvbuf", ev.rcvbuf());
                    gen.writeNumberProperty("wmem_queued", ev.wmemQueued());
                    gen.writeNumberProperty("sndbuf", ev.sndbuf());
                    if (kind == EventKind.RCVQUEUE_FULL) {
                        gen.writeNumberProperty("truesize", ev.truesize());
                    } else {
                        gen.writeNumberProperty("allocated_pages", ev.allocated());
                        gen.writeStringProperty("mem_kind", ev.memKind());
                    }
                }
            }
        }
        gen.writeEndObject();
        gen.writeRaw('\n');
    }

    /** {@code {"type":"connection",...}}: duration, bytes each way and retransmits of a closed connection. */
    @Override
    public void connection(ConnectionTable.Closed c) {
        gen.writeStartObject();
        gen.writeStringProperty("type", "connection");
        gen.writeStringProperty("saddr", c.saddr());
        gen.writeNumberProperty("sport", c.sport());
        gen.writeStringProperty("daddr", c.daddr());
        gen.writeNumberProperty("dport", c.dport());
        gen.writeNumberProperty("pid", c.pid());
        gen.writeStringProperty("comm", c.comm());
        gen.writeStringProperty("endpoint", endpoints.name(c.endpoint()));
        gen.writeStringProperty("bus", endpoints.bus(c.endpoint()));
        gen.writeStringProperty("direction", EndpointNames.direction(c.direction()));
        gen.writeNumberProperty("duration_ns", c.durationNanos());
        gen.writeNumberProperty("bytes_sent", c.bytesSent());
        gen.writeNumberProperty("bytes_received", c.bytesReceived());
        gen.writeNumberProperty("retransmits", c.retransmits());
        gen.writeNumberProperty("sock_cookie", c.cookie());
        gen.writeEndObject();
        gen.writeRaw('\n');
    }

    @Override
    public void flush() {
        gen.flush();
    }

    @Override
    public void summary(Summary s) {
        gen.writeStartObject();
        gen.writeStringProperty("type", "summary");
        gen.writeNumberProperty("duration_ms", s.durationMs());
        gen.writeNumberProperty("records_read", s.recordsRead());
        gen.writeNumberProperty("records_discarded", s.recordsDiscarded());
        gen.writeNumberProperty("submitted", s.submitted());
        gen.writeNumberProperty("dropped", s.dropped());
        gen.writeName("kinds");
        gen.writeStartObject();
        for (Map.Entry<EventKind, KindStats> e : s.kinds().entrySet()) {
            KindStats k = e.getValue();
            gen.writeName(e.getKey().label());
            gen.writeStartObject();
            gen.writeNumberProperty("seen", k.seen());
            gen.writeNumberProperty("sampled_out", k.sampledOut());
            gen.writeNumberProperty("rate_limited", k.rateLimited());
            gen.writeNumberProperty("submitted", k.submitted());
            gen.writeNumberProperty("dropped", k.dropped());
            if (e.getKey().family() == EventKind.Family.RETRANSMIT) {
                gen.writeNumberProperty("segs", k.segs());
            }
            gen.writeEndObject();
        }
        gen.writeEndObject();
        if (s.kinds().containsKey(EventKind.DROP)) {
            // exact: the kernel's counters over the trace, every drop whatever was sampled
            gen.writeName("drop_reasons");
            gen.writeStartObject();
            for (Map.Entry<String, Long> e : s.dropReasons().entrySet()) {
                gen.writeNumberProperty(e.getKey(), e.getValue());
            }
            gen.writeEndObject();
        }
                gen.writeName("probes");
        gen.writeStartObject();
        for (ProbeStatus p : s.probes()) {
            gen.writeStringProperty(p.probe().tracepoint(), p.state().name().toLowerCase(java.util.Locale.ROOT));
        }
        gen.writeEndObject();
        gen.writeEndObject();
        gen.writeRaw('\n');
        gen.flush();
    }

    /** Flushes; the stream underneath belongs to the caller and stays open. */
    @Override
    public void close() {
        gen.flush();
    }
}
