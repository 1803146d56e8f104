package io.busprobe.event;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_event;
import io.busprobe.bpf.Probe;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.maps.KindStats;
import io.busprobe.maps.TopicMaps;
import io.busprobe.sink.EndpointNames;
import io.busprobe.sink.EventSink;
import io.busprobe.sink.JsonSink;
import io.busprobe.testutil.UnitEvent;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

/** Decoding of ring records written exactly as the BPF side lays them out. */
class EventViewTest {
    /** The session's topic table stand-in: tag 0 is no topic, any other a channel of PUBLISH. */
    private static final java.util.function.LongFunction<TopicMaps.Name> TOPICS =
            tag -> tag == 0 ? new TopicMaps.Name(TopicMaps.OTHER_NAME, "") : new TopicMaps.Name("ch-" + tag, "publish");
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_SYN_SENT = 2;
    private static final int TCP_SYN_RECV = 3;
    private static final int TCP_CLOSE = 7;
    private static final int TCP_LISTEN = 10;
    private static final int RETRANS_RTO = 1;
    private static final int RETRANS_SYNACK = 5;
    private static final int TCP_CA_LOSS = 4;

    private Arena arena;
    private MemorySegment rec;
    private final EventView ev = new EventView();

    @BeforeEach
    void allocate() {
        arena = Arena.ofConfined();
        rec = arena.allocate(bp_event.layout());
    }

    @AfterEach
    void free() {
        arena.close();
    }

    private EventView view() {
        return ev.wrap(rec, 0);
    }

    @Test
    void sizeIsTheCStructSize() {
        assertThat(EventView.SIZE).isEqualTo(Native.BP_EVENT_SIZE());
        assertThat(EventView.AF_INET).isEqualTo(UnitEvent.AF_INET);
        assertThat(EventView.AF_INET6).isEqualTo(UnitEvent.AF_INET6);
    }

    @ParameterizedTest
    @EnumSource(EventKind.class)
    void everyKindDecodes(EventKind kind) {
        UnitEvent.at(rec).kind(kind);
        assertThat(view().kindId()).isEqualTo(kind.id());
        assertThat(view().kind()).isSameAs(kind);
    }

    @Test
    void unknownKindIdsDecodeToNull() {
        UnitEvent.at(rec).kindId(0);
        assertThat(view().kind()).isNull();
        UnitEvent.at(rec).kindId(Native.BP_KIND_MAX());
        assertThat(view().kind()).isNull();
        UnitEvent.at(rec).kindId(0xffff);
        assertThat(view().kindId()).isEqualTo(0xffff);
        assertThat(view().kind()).isNull();
    }

    @Test
    void retransmitIpv4() {
        UnitEvent.at(rec).kind(EventKind.RETRANSMIT)
                .ts(123_456_789_012L).cookie(0x8000_0000_0000_0001L)
                .task(4242, 4243, "java").netns(0xF000_0098)
                .state(TCP_ESTABLISHED).flags(EventView.FLAG_TASK_VALID)
                .tuple("192.168.1.200", 50_000, "10.0.0.1", 9092)
                .retransmit(3, -11, 0x8000_0001, 10, 0xFFFF_FFFF, RETRANS_RTO, TCP_CA_LOSS);

        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.RETRANSMIT);
        assertThat(v.tsNanos()).isEqualTo(123_456_789_012L);
        assertThat(v.sockCookie()).isEqualTo(0x8000_0000_0000_0001L);
        assertThat(v.pid()).isEqualTo(4242);
        assertThat(v.tid()).isEqualTo(4243);
        assertThat(v.comm()).isEqualTo("java");
        assertThat(v.netns()).isEqualTo(0xF000_0098L).isEqualTo(4026531992L);
        assertThat(v.state()).isEqualTo(TCP_ESTABLISHED);
        assertThat(v.taskValid()).isTrue();

        assertThat(v.family()).isEqualTo(EventView.AF_INET);
        assertThat(v.protocol()).isEqualTo(UnitEvent.IPPROTO_TCP);
        assertThat(v.sport()).isEqualTo(50_000);
        assertThat(v.dport()).isEqualTo(9092);
        assertThat(v.saddrV4()).isEqualTo(0xC0A801C8);
        assertThat(v.daddrV4()).isEqualTo(0x0A000001);
        assertThat(v.saddr()).isInstanceOf(Inet4Address.class);
        assertThat(v.saddr().getHostAddress()).isEqualTo("192.168.1.200");
        assertThat(v.daddr().getHostAddress()).isEqualTo("10.0.0.1");
        assertThat(Addresses.source(v)).isEqualTo("192.168.1.200");
        assertThat(Addresses.destination(v)).isEqualTo("10.0.0.1");

        assertThat(v.retransmitSegs()).isEqualTo(3);
        assertThat(v.retransmitErr()).isEqualTo(-11);
        assertThat(v.srttMicros()).isEqualTo(0x8000_0001L);
        assertThat(v.sndCwnd()).isEqualTo(10);
        assertThat(v.totalRetrans()).isEqualTo(4_294_967_295L);
        assertThat(v.retransmitKind()).isEqualTo(RETRANS_RTO);
        assertThat(RetransKind.name(v.retransmitKind())).isEqualTo("rto");
        assertThat(v.caState()).isEqualTo(TCP_CA_LOSS);
    }

    @Test
    void retransmitSynackIpv6() {
        UnitEvent.at(rec).kind(EventKind.RETRANSMIT_SYNACK)
                .ts(1).task(0, 0, "swapper/3").netns(0x7fff_ffff)
                .state(TCP_SYN_RECV).flags(0)
                .tuple("2001:db8::1", 443, "fe80::1:2", 65_535)
                .retransmit(1, 0, 0, 0, 2, RETRANS_SYNACK, 0);

        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.RETRANSMIT_SYNACK);
        assertThat(v.taskValid()).isFalse();
        assertThat(v.netns()).isEqualTo(0x7fff_ffffL);
        assertThat(v.family()).isEqualTo(EventView.AF_INET6);
        assertThat(v.saddr()).isInstanceOf(Inet6Address.class).isEqualTo(UnitEvent.literal("2001:db8::1"));
        assertThat(v.daddr()).isEqualTo(UnitEvent.literal("fe80::1:2"));
        assertThat(Addresses.source(v)).isEqualTo("2001:db8::1");
        assertThat(v.sport()).isEqualTo(443);
        assertThat(v.dport()).isEqualTo(65_535);
        assertThat(v.retransmitSegs()).isEqualTo(1);
        assertThat(v.retransmitErr()).isZero();
        assertThat(v.totalRetrans()).isEqualTo(2);
        assertThat(RetransKind.name(v.retransmitKind())).isEqualTo("synack");
    }

    @Test
    void stateChange() {
        UnitEvent.at(rec).kind(EventKind.STATE).task(77, 78, "curl").flags(EventView.FLAG_TASK_VALID)
                .tuple("127.0.0.1", 41_000, "127.0.0.1", 8080)
                .stateChange(TCP_SYN_SENT, TCP_ESTABLISHED);

        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.STATE);
        assertThat(v.oldState()).isEqualTo(TCP_SYN_SENT);
        assertThat(v.newState()).isEqualTo(TCP_ESTABLISHED);
        assertThat(v.state()).as("state is the new state").isEqualTo(TCP_ESTABLISHED);
        assertThat(TcpState.name(v.oldState())).isEqualTo("SYN_SENT");
        assertThat(TcpState.name(v.newState())).isEqualTo("ESTABLISHED");
        assertThat(v.sport()).isEqualTo(41_000);
    }

    @Test
    void stateNamesAreUnsigned() {
        UnitEvent.at(rec).kind(EventKind.STATE).stateChange(0xff, TCP_CLOSE);
        assertThat(view().oldState()).isEqualTo(255);
        assertThat(TcpState.name(view().oldState())).isEqualTo("UNKNOWN");
    }

    @Test
    void resetSent() {
        UnitEvent.at(rec).kind(EventKind.RESET_SENT).state(TCP_LISTEN)
                .tuple("10.1.2.3", 9092, "10.9.8.7", 33_000).reset(2);
        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.RESET_SENT);
        assertThat(v.resetReason()).isEqualTo(2);
        assertThat(v.state()).isEqualTo(TCP_LISTEN);
        assertThat(v.dport()).isEqualTo(33_000);
    }

    @Test
    void resetReceived() {
        UnitEvent.at(rec).kind(EventKind.RESET_RECEIVED).state(TCP_ESTABLISHED)
                .tuple("::1", 5672, "::1", 40_001).reset(0);
        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.RESET_RECEIVED);
        assertThat(v.resetReason()).isZero();
        assertThat(v.family()).isEqualTo(EventView.AF_INET6);
        assertThat(v.saddr().isLoopbackAddress()).isTrue();
        assertThat(Addresses.destination(v)).isEqualTo("::1");
    }

    @Test
    void rcvqueueFull() {
        UnitEvent.at(rec).kind(EventKind.RCVQUEUE_FULL).tuple("10.0.0.2", 6379, "10.0.0.3", 50_123)
                .protocol(17)
                .pressure(0, 212_992, 212_992, 0x9000_0000, 0, 0, Native.BP_MEM_SEND());
        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.RCVQUEUE_FULL);
        assertThat(v.protocol()).isEqualTo(17);
        assertThat(v.rmemAlloc()).isEqualTo(212_992);
        assertThat(v.rcvbuf()).isEqualTo(212_992);
        assertThat(v.truesize()).isEqualTo(0x9000_0000L);
    }

    @Test
    void exceedBufLimit() {
        UnitEvent.at(rec).kind(EventKind.EXCEED_BUF_LIMIT).tuple("10.0.0.2", 1, "10.0.0.3", 2)
                .pressure(0x1_0000_0001L, 0xFFFF_FFFF, 1, 2, 0x8000_0000, 4_194_304, Native.BP_MEM_RECV());
        EventView v = view();
        assertThat(v.kind()).isEqualTo(EventKind.EXCEED_BUF_LIMIT);
        assertThat(v.allocated()).isEqualTo(0x1_0000_0001L);
        assertThat(v.rmemAlloc()).isEqualTo(0xFFFF_FFFFL);
        assertThat(v.rcvbuf()).isEqualTo(1);
        assertThat(v.truesize()).isEqualTo(2);
        assertThat(v.wmemQueued()).isEqualTo(0x8000_0000L);
        assertThat(v.sndbuf()).isEqualTo(4_194_304);
        assertThat(v.memKind()).isEqualTo("recv");

        UnitEvent.at(rec).kind(EventKind.EXCEED_BUF_LIMIT).pressure(0, 0, 0, 0, 0, 0, Native.BP_MEM_SEND());
        assertThat(view().memKind()).isEqualTo("send");
    }

    @Test
    void portsAndFamilyAreUnsigned() {
        UnitEvent.at(rec).kind(EventKind.STATE).tuple("1.2.3.4", 32_768, "5.6.7.8", 65_535);
        assertThat(view().sport()).isEqualTo(32_768);
        assertThat(view().dport()).isEqualTo(65_535);
        UnitEvent.at(rec).kind(EventKind.STATE).tuple("1.2.3.4", 0, "5.6.7.8", 32_767);
        assertThat(view().sport()).isZero();
        assertThat(view().dport()).isEqualTo(32_767);
    }

    @Test
    void netnsAbove2To31IsPositive() {
        UnitEvent.at(rec).netns(0xFFFF_FFFF);
        assertThat(view().netns()).isEqualTo(4_294_967_295L);
        UnitEvent.at(rec).netns(0x8000_0000);
        assertThat(view().netns()).isEqualTo(2_147_483_648L);
    }

    @Test
    void ipv4BroadcastAndHighOctets() {
        UnitEvent.at(rec).tuple("255.255.255.255", 1, "128.0.0.255", 2);
        EventView v = view();
        assertThat(v.saddrV4()).isEqualTo(-1);
        assertThat(Addresses.source(v)).isEqualTo("255.255.255.255");
        assertThat(Addresses.destination(v)).isEqualTo("128.0.0.255");
        assertThat(v.saddr().getHostAddress()).isEqualTo("255.255.255.255");
    }

    @Test
    void commNulTerminated() {
        UnitEvent.at(rec).task(1, 1, "curl");
        assertThat(view().comm()).isEqualTo("curl");
    }

    @Test
    void commEmpty() {
        UnitEvent.at(rec).comm(new byte[0]);
        assertThat(view().comm()).isEmpty();
    }

    @Test
    void commFullSixteenBytesWithoutNulStopsAtTheField() {
        UnitEvent.at(rec).comm("abcdefghijklmnop".getBytes(StandardCharsets.US_ASCII))
                .tuple("9.9.9.9", 1, "9.9.9.9", 1); // non-zero bytes right after comm
        assertThat(view().comm()).isEqualTo("abcdefghijklmnop");
    }

    @Test
    void commStopsAtFirstNulEvenWithGarbageAfter() {
        byte[] b = "kafka\0xyz".getBytes(StandardCharsets.US_ASCII);
        UnitEvent.at(rec).comm(b);
        assertThat(view().comm()).isEqualTo("kafka");
    }

    @Test
    void taskValidIsOnlyTheTaskFlag() {
        UnitEvent.at(rec).flags(EventView.FLAG_NO_SOCKET);
        assertThat(view().taskValid()).isFalse();
        UnitEvent.at(rec).flags(EventView.FLAG_NO_SOCKET | EventView.FLAG_TASK_VALID);
        assertThat(view().taskValid()).isTrue();
        UnitEvent.at(rec).flags(0xff);
        assertThat(view().flags()).isEqualTo(0xff);
        assertThat(view().taskValid()).isTrue();
        assertThat(EventView.FLAG_TASK_VALID).isEqualTo(Native.BP_F_TASK_VALID());
        assertThat(EventView.FLAG_NO_SOCKET).isEqualTo(Native.BP_F_NO_SOCKET());
    }

    @Test
    void wrapRepositionsOverRecordsAtAnyOffset() {
        // three records back to back as in a ring: 8-byte header + 120 bytes, so the next header is at 128
        long stride = 8 + bp_event.sizeof();
        MemorySegment ring = arena.allocate(3 * stride, 8);
        for (int i = 0; i < 3; i++) {
            UnitEvent.at(ring, i * stride + 8).kind(EventKind.RESET_SENT).ts(1000 + i).reset(i)
                    .tuple("10.0.0." + (i + 1), 1000 + i, "10.0.1.1", 80);
        }
        EventView v = new EventView();
        for (int i = 0; i < 3; i++) {
            v.wrap(ring, i * stride + 8);
            assertThat(v.tsNanos()).isEqualTo(1000 + i);
            assertThat(v.resetReason()).isEqualTo(i);
            assertThat(v.sport()).isEqualTo(1000 + i);
            assertThat(Addresses.source(v)).isEqualTo("10.0.0." + (i + 1));
        }
    }

    @Nested
    class JsonSinkOutput {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        private List<Map<String, Object>> write(EventView... views) {
            try (JsonSink sink = new JsonSink(bytes, new EndpointNames(EndpointConfig.defaults()), TOPICS)) {
                for (EventView v : views) {
                    sink.event(v);
                }
                sink.flush();
            }
            String text = bytes.toString(StandardCharsets.UTF_8);
            assertThat(text).endsWith("\n");
            return text.lines().map(UnitJson::object).toList();
        }

        private Map<String, Object> writeOne() {
            List<Map<String, Object>> lines = write(view());
            assertThat(lines).hasSize(1);
            return lines.getFirst();
        }

        @Test
        void retransmitEventHasTheDocumentedFields() {
            UnitEvent.at(rec).kind(EventKind.RETRANSMIT)
                    .ts(987_654_321_000L).cookie(77).task(4242, 4243, "java").netns(0xF000_0098)
                    .state(TCP_ESTABLISHED).flags(EventView.FLAG_TASK_VALID)
                    .tuple("192.168.1.200", 50_000, "10.0.0.1", 9092)
                    .retransmit(3, -11, 1500, 10, 7, RETRANS_RTO, TCP_CA_LOSS);

            Map<String, Object> j = writeOne();
            assertThat(j).containsKeys("kind", "ts_ns", "family", "saddr", "sport", "daddr", "dport", "state",
                    "pid", "comm", "segs", "retrans_kind");
            assertThat(j).contains(
                    entry("type", "event"),
                    entry("kind", "retransmit"),
                    entry("ts_ns", 987_654_321_000L),
                    entry("family", "ipv4"),
                    entry("saddr", "192.168.1.200"),
                    entry("sport", 50_000L),
                    entry("daddr", "10.0.0.1"),
                    entry("dport", 9092L),
                    entry("state", "ESTABLISHED"),
                    entry("pid", 4242L),
                    entry("tid", 4243L),
                    entry("comm", "java"),
                    entry("task_valid", true),
                    entry("netns", 4026531992L),
                    entry("sock_cookie", 77L),
                    entry("protocol", 6L),
                    entry("segs", 3L),
                    entry("retrans_kind", "rto"),
                    entry("err", -11L),
                    entry("srtt_us", 1500L),
                    entry("snd_cwnd", 10L),
                    entry("total_retrans", 7L),
                    entry("ca_state", 4L),
                    entry("topic", "other"),
                    entry("op", null));
        }

        @Test
        void aRetransmitOfATaggedSendNamesItsTopicAndOp() {
            UnitEvent.at(rec).kind(EventKind.RETRANSMIT).tuple("10.0.0.2", 50_000, "10.0.0.1", 6379)
                    .retransmit(1, 0, 0, 10, 1, RETRANS_RTO, 0).topic(42);
            assertThat(writeOne()).contains(entry("topic", "ch-42"), entry("op", "publish"));
        }

        @Test
        void synackIpv6() {
            UnitEvent.at(rec).kind(EventKind.RETRANSMIT_SYNACK).state(TCP_SYN_RECV)
                    .tuple("2001:db8::1", 443, "2001:db8::2", 60_000)
                    .retransmit(1, 0, 0, 0, 1, RETRANS_SYNACK, 0);
            Map<String, Object> j = writeOne();
            assertThat(j).contains(entry("kind", "retransmit_synack"), entry("family", "ipv6"),
                    entry("saddr", "2001:db8::1"), entry("daddr", "2001:db8::2"),
                    entry("dport", 60_000L), entry("retrans_kind", "synack"), entry("task_valid", false),
                    entry("state", "SYN_RECV"));
        }

        @Test
        void stateEvent() {
            UnitEvent.at(rec).kind(EventKind.STATE).tuple("127.0.0.1", 1, "127.0.0.1", 2)
                    .stateChange(TCP_SYN_SENT, TCP_ESTABLISHED);
            Map<String, Object> j = writeOne();
            assertThat(j).contains(entry("kind", "state"), entry("state", "ESTABLISHED"),
                    entry("old_state", "SYN_SENT"), entry("new_state", "ESTABLISHED"));
            assertThat(j).doesNotContainKeys("segs", "retrans_kind", "reason");
        }

        @Test
        void resetEvents() {
            UnitEvent.at(rec).kind(EventKind.RESET_SENT).tuple("127.0.0.1", 1, "127.0.0.1", 2).reset(5);
            assertThat(writeOne()).contains(entry("kind", "reset_sent"), entry("reason", 5L));
        }

        @Test
        void pressureEvents() {
            MemorySegment two = arena.allocate(bp_event.layout().byteSize() * 2, 8);
            UnitEvent.at(two, 0).kind(EventKind.RCVQUEUE_FULL).tuple("10.0.0.1", 1, "10.0.0.2", 2)
                    .pressure(0, 100, 200, 300, 0, 0, 0);
            UnitEvent.at(two, bp_event.sizeof()).kind(EventKind.EXCEED_BUF_LIMIT)
                    .tuple("10.0.0.1", 1, "10.0.0.2", 2)
                    .pressure(4096, 1, 2, 0, 3, 4, Native.BP_MEM_RECV());
            List<Map<String, Object>> lines = write(new EventView().wrap(two, 0),
                    new EventView().wrap(two, bp_event.sizeof()));
            assertThat(lines).hasSize(2);
            assertThat(lines.get(0)).contains(entry("kind", "rcvqueue_full"), entry("rmem_alloc", 100L),
                    entry("rcvbuf", 200L), entry("truesize", 300L)).doesNotContainKey("mem_kind");
            assertThat(lines.get(1)).contains(entry("kind", "exceed_buf_limit"), entry("allocated_pages", 4096L),
                    entry("mem_kind", "recv"), entry("wmem_queued", 3L), entry("sndbuf", 4L))
                    .doesNotContainKey("truesize");
        }

        @Test
        void unknownKindIsLabelledNotDropped() {
            UnitEvent.at(rec).kindId(99).tuple("10.0.0.1", 1, "10.0.0.2", 2);
            assertThat(writeOne()).contains(entry("kind", "unknown_99"));
        }

        @Test
        void commIsEscaped() {
            UnitEvent.at(rec).kind(EventKind.STATE).comm("a\"b\\c\td".getBytes(StandardCharsets.US_ASCII))
                    .tuple("10.0.0.1", 1, "10.0.0.2", 2);
            assertThat(writeOne()).contains(entry("comm", "a\"b\\c\td"));
        }

        @Test
        void summaryLine() {
            Map<EventKind, KindStats> kinds = new EnumMap<>(EventKind.class);
            kinds.put(EventKind.RETRANSMIT, new KindStats(10, 1, 0, 8, 1, 12));
            kinds.put(EventKind.STATE, new KindStats(5, 0, 0, 5, 0, 0));
            List<ProbeStatus> probes = List.of(
                    new ProbeStatus(Probe.TCP_RETRANSMIT_SKB, ProbeStatus.State.ATTACHED, ""),
                    new ProbeStatus(Probe.SOCK_EXCEED_BUF_LIMIT, ProbeStatus.State.MISSING_TRACEPOINT, "old kernel"));
            try (JsonSink sink = new JsonSink(bytes, new EndpointNames(EndpointConfig.defaults()), TOPICS)) {
                sink.summary(new EventSink.Summary(1500, kinds, 13, 2, probes));
            }
            List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
            assertThat(lines).hasSize(1);
            Map<String, Object> j = UnitJson.object(lines.getFirst());
            assertThat(j).contains(entry("type", "summary"), entry("duration_ms", 1500L),
                    entry("records_read", 13L), entry("records_discarded", 2L), entry("submitted", 13L),
                    entry("dropped", 1L));
            Map<String, Object> k = map(j.get("kinds"));
            assertThat(k).containsOnlyKeys("retransmit", "state");
            assertThat(map(k.get("retransmit"))).containsEntry("segs", 12L).containsEntry("dropped", 1L)
                    .containsEntry("seen", 10L).containsEntry("sampled_out", 1L).containsEntry("submitted", 8L);
            assertThat(map(k.get("state"))).doesNotContainKey("segs");
            assertThat(map(j.get("probes"))).containsEntry("tcp:tcp_retransmit_skb", "attached")
                    .containsEntry("sock:sock_exceed_buf_limit", "missing_tracepoint");
        }

        @SuppressWarnings("unchecked")
        private static Map<String, Object> map(Object o) {
            assertThat(o).isInstanceOf(Map.class);
            return (Map<String, Object>) o;
        }
    }
}
