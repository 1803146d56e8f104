package io.busprobe.event;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_event;
import io.busprobe.bindings.bp_event_drop;
import io.busprobe.bindings.bp_event_pressure;
import io.busprobe.bindings.bp_event_reset;
import io.busprobe.bindings.bp_event_retransmit;
import io.busprobe.bindings.bp_event_state;
import io.busprobe.bindings.bp_tuple;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A reusable, allocation-free view of one {@code struct bp_event} record,
 * read in place from ring-buffer memory. Offsets come from the jextract
 * layouts of {@code bpf/events.h}, never from hand-written numbers.
 *
 * <p>A view is repositioned with {@link #wrap} for each record and is only
 * valid until the handler returns: the ring reader hands the space back to
 * the kernel afterwards. Copy what must outlive the callback.
 *
 * {@snippet :
 * EventView ev = new EventView();
 * ev.wrap(segment, offset);
 * if (ev.kind() == EventKind.RETRANSMIT) total += ev.retransmitSegs();
 * }
 */
public final class EventView {
    /** Size of a record as the C compiler laid it out. */
    public static final long SIZE = bp_event.layout().byteSize();

    private static final long TS = off("ts_ns");
    private static final long COOKIE = off("sock_cookie");
    private static final long PID = off("pid");
    private static final long TID = off("tid");
    private static final long NETNS = off("netns");
    private static final long KIND = off("kind");
    private static final long STATE = off("state");
    private static final long FLAGS = off("flags");
    private static final long COMM = off("comm");
    private static final long CGROUP = off("cgroup_id");
    private static final long ENDPOINT = off("endpoint");
    private static final long DIRECTION = off("direction");
    private static final long COMM_LEN = bp_event.comm$layout().byteSize();

    private static final long TUPLE = off("tuple");
    private static final long SADDR = TUPLE + bp_tuple.saddr$offset();
    private static final long DADDR = TUPLE + bp_tuple.daddr$offset();
    private static final long SPORT = TUPLE + bp_tuple.sport$offset();
    private static final long DPORT = TUPLE + bp_tuple.dport$offset();
    private static final long FAMILY = TUPLE + bp_tuple.family$offset();
    private static final long PROTOCOL = TUPLE + bp_tuple.protocol$offset();

    private static final long RETRANSMIT = off("u", "retransmit");
    private static final long R_SEGS = RETRANSMIT + bp_event_retransmit.segs$offset();
    private static final long R_ERR = RETRANSMIT + bp_event_retransmit.err$offset();
    private static final long R_SRTT = RETRANSMIT + bp_event_retransmit.srtt_us$offset();
    private static final long R_CWND = RETRANSMIT + bp_event_retransmit.snd_cwnd$offset();
    private static final long R_TOTAL = RETRANSMIT + bp_event_retransmit.total_retrans$offset();
    private static final long R_KIND = RETRANSMIT + bp_event_retransmit.retrans_kind$offset();
    private static final long R_CA = RETRANSMIT + bp_event_retransmit.ca_state$offset();
    private static final long R_SEQ = RETRANSMIT + bp_event_retransmit.seq$offset();
    private static final long R_END_SEQ = RETRANSMIT + bp_event_retransmit.end_seq$offset();
    private static final long R_TOPIC = RETRANSMIT + bp_event_retransmit.topic$offset();
    private static final long R_CAUSE_REASON = RETRANSMIT + bp_event_retransmit.cause_reason$offset();
    private static final long R_CAUSE_NETNS = RETRANSMIT + bp_event_retransmit.cause_netns$offset();

    private static final long S_OLD = off("u", "state") + bp_event_state.old_state$offset();
    private static final long S_NEW = off("u", "state") + bp_event_state.new_state$offset();
    private static final long S_RETRANS = off("u", "state") + bp_event_state.total_retrans$offset();
    private static final long S_BYTES_SENT = off("u", "state") + bp_event_state.bytes_sent$offset();
    private static final long S_BYTES_RECEIVED = off("u", "state") + bp_event_state.bytes_received$offset();
    private static final long S_SEGS_OUT = off("u", "state") + bp_event_state.segs_out$offset();
    private static final long S_SEGS_IN = off("u", "state") + bp_event_state.segs_in$offset();
    private static final long S_DURATION = off("u", "state") + bp_event_state.duration_ns$offset();
    private static final long RST_REASON = off("u", "reset") + bp_event_reset.reason$offset();

    private static final long PRESSURE = off("u", "pressure");
    private static final long P_ALLOCATED = PRESSURE + bp_event_pressure.allocated$offset();
    private static final long P_RMEM = PRESSURE + bp_event_pressure.rmem_alloc$offset();
    private static final long P_RCVBUF = PRESSURE + bp_event_pressure.rcvbuf$offset();
    private static final long P_TRUESIZE = PRESSURE + bp_event_pressure.truesize$offset();
    private static final long P_WMEM = PRESSURE + bp_event_pressure.wmem_queued$offset();
    private static final long P_SNDBUF = PRESSURE + bp_event_pressure.sndbuf$offset();
    private static final long P_MEMKIND = PRESSURE + bp_event_pressure.mem_kind$offset();

    private static final long DROP = off("u", "drop");
    private static final long D_LOCATION = DROP + bp_event_drop.location$offset();
    private static final long D_REASON = DROP + bp_event_drop.reason$offset();
    private static final long D_IFINDEX = DROP + bp_event_drop.ifindex$offset();
    private static final long D_RX = DROP + bp_event_drop.rx$offset();

    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int FLAG_TASK_VALID = Native.BP_F_TASK_VALID();
    public static final int FLAG_NO_SOCKET = Native.BP_F_NO_SOCKET();
    public static final int FLAG_OWNER = Native.BP_F_OWNER();
    public static final int FLAG_CAUSE = Native.BP_F_CAUSE();

    /**
     * Addresses are in network order. A constant, because {@code withOrder} makes a
     * new layout, and finds its var handle again, on every call it appears in.
     */
    private static final ValueLayout.OfInt NET_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private MemorySegment seg = MemorySegment.NULL;
    private long base;

    private static long off(String... path) {
        PathElement[] p = new PathElement[path.length];
        for (int i = 0; i < path.length; i++) {
            p[i] = PathElement.groupElement(path[i]);
        }
        return bp_event.layout().byteOffset(p);
    }

    /** Point this view at the record starting at {@code offset} in {@code segment}. */
    public EventView wrap(MemorySegment segment, long offset) {
        this.seg = segment;
        this.base = offset;
        return this;
    }

    public long tsNanos() {
        return seg.get(ValueLayout.JAVA_LONG, base + TS);
    }

    public long sockCookie() {
        return seg.get(ValueLayout.JAVA_LONG, base + COOKIE);
    }

    public int pid() {
        return seg.get(ValueLayout.JAVA_INT, base + PID);
    }

    public int tid() {
        return seg.get(ValueLayout.JAVA_INT, base + TID);
    }

    /** Network namespace inode number, as in {@code /proc/PID/ns/net}. */
    public long netns() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + NETNS));
    }

    public int kindId() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + KIND));
    }

    public EventKind kind() {
        return EventKind.ofId(kindId());
    }

    /** TCP state of the socket; for state events, the new state. */
    public int state() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + STATE));
    }

    public int flags() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + FLAGS));
    }

    /** Bus endpoint id (0: other); names come from the endpoint config. */
    public int endpoint() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + ENDPOINT));
    }

    /** {@code BP_DIR_*}: 0 none, 1 this host is the client, 2 the server. */
    public int direction() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + DIRECTION));
    }

    /** cgroup id of the owner (or of the current task when that is meaningful), else 0. */
    public long cgroupId() {
        return seg.get(ValueLayout.JAVA_LONG, base + CGROUP);
    }

    /** Whether pid/comm/cgroup are the socket's owner, learned where it acted on the socket. */
    public boolean ownerKnown() {
        return (flags() & FLAG_OWNER) != 0;
    }

    /** Whether pid/comm name the task the event is about, not one a softirq interrupted. */
    public boolean taskValid() {
        return (flags() & FLAG_TASK_VALID) != 0;
    }

    /** The current task's comm, decoded; allocates, so for sinks rather than hot paths. */
    public String comm() {
        int n = 0;
        while (n < COMM_LEN && seg.get(ValueLayout.JAVA_BYTE, base + COMM + n) != 0) {
            n++;
        }
        byte[] b = new byte[n];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, base + COMM, b, 0, n);
        return new String(b, StandardCharsets.UTF_8);
    }

    public int family() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + FAMILY));
    }

    public int protocol() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + PROTOCOL));
    }

    public int sport() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + SPORT));
    }

    public int dport() {
        return Short.toUnsignedInt(seg.get(ValueLayout.JAVA_SHORT, base + DPORT));
    }

    /** First 4 address bytes as a big-endian int: the IPv4 source address. */
    public int saddrV4() {
        return seg.get(NET_INT, base + SADDR);
    }

    public int daddrV4() {
        return seg.get(NET_INT, base + DADDR);
    }

    public InetAddress saddr() {
        return address(SADDR);
    }

    public InetAddress daddr() {
        return address(DADDR);
    }

    private InetAddress address(long field) {
        int len = family() == AF_INET6 ? 16 : 4;
        byte[] b = new byte[len];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, base + field, b, 0, len);
        try {
            return InetAddress.getByAddress(b);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    // retransmit kinds

    public int retransmitSegs() {
        return seg.get(ValueLayout.JAVA_INT, base + R_SEGS);
    }

    /** 0 when the retransmit was sent, else a negative errno (kernels with the err argument). */
    public int retransmitErr() {
        return seg.get(ValueLayout.JAVA_INT, base + R_ERR);
    }

    public int retransmitKind() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + R_KIND));
    }

    public int caState() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + R_CA));
    }

    public long srttMicros() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_SRTT));
    }

    public long sndCwnd() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_CWND));
    }

    public long totalRetrans() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_TOTAL));
    }

    /** First sequence number resent ({@code TCP_SKB_CB(skb)->seq}), as in a packet capture's absolute seq. */
    /** Retransmit: the tag of the topic whose bytes it resent (see {@code TopicMaps}), 0 when none is known. */
    public long retransmitTopic() {
        return seg.get(ValueLayout.JAVA_LONG, base + R_TOPIC);
    }

    public long retransmitSeq() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_SEQ));
    }

    /** One past the last sequence number resent ({@code end_seq}; a SYN or FIN counts one). */
    public long retransmitEndSeq() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_END_SEQ));
    }

    // state

    public int oldState() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + S_OLD));
    }

    public int newState() {
        return Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, base + S_NEW));
    }

    /** State events: the socket's tp->total_retrans at the transition. */
    public long stateTotalRetrans() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + S_RETRANS));
    }

    public long stateBytesSent() {
        return seg.get(ValueLayout.JAVA_LONG, base + S_BYTES_SENT);
    }

    public long stateBytesReceived() {
        return seg.get(ValueLayout.JAVA_LONG, base + S_BYTES_RECEIVED);
    }

    public long stateSegsOut() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + S_SEGS_OUT));
    }

    public long stateSegsIn() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + S_SEGS_IN));
    }

    /** Connection age at this transition, 0 when busprobe did not see it start. */
    public long stateDurationNanos() {
        return seg.get(ValueLayout.JAVA_LONG, base + S_DURATION);
    }

    // reset

    public int resetReason() {
        return seg.get(ValueLayout.JAVA_INT, base + RST_REASON);
    }

    // pressure

    public long allocated() {
        return seg.get(ValueLayout.JAVA_LONG, base + P_ALLOCATED);
    }

    public long rmemAlloc() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + P_RMEM));
    }

    public long rcvbuf() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + P_RCVBUF));
    }

    public long truesize() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + P_TRUESIZE));
    }

    public long wmemQueued() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + P_WMEM));
    }

    public long sndbuf() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + P_SNDBUF));
    }

    /** "send" or "recv": which side's charge failed (exceed_buf_limit). */
    public String memKind() {
        return seg.get(ValueLayout.JAVA_BYTE, base + P_MEMKIND) == Native.BP_MEM_RECV()
                ? "recv" : "send";
    }

    /** Whether this host dropped a packet of the retransmit's flow shortly before (its cause); else unseen. */
    public boolean hasCause() {
        return (flags() & FLAG_CAUSE) != 0;
    }

    /** With {@link #hasCause}: the kernel's drop reason of the flow's last local loss. */
    public int causeReason() {
        return seg.get(ValueLayout.JAVA_INT, base + R_CAUSE_REASON);
    }

    /** With {@link #hasCause}: the network namespace that loss happened in. */
    public long causeNetns() {
        return Integer.toUnsignedLong(seg.get(ValueLayout.JAVA_INT, base + R_CAUSE_NETNS));
    }

    // drop

    /** The kernel's {@code enum skb_drop_reason} value; names come from {@code DropReasons}. */
    public int dropReason() {
        return seg.get(ValueLayout.JAVA_INT, base + D_REASON);
    }

    /** The kernel text address that freed the packet. */
    public long dropLocation() {
        return seg.get(ValueLayout.JAVA_LONG, base + D_LOCATION);
    }

    /** The interface the packet arrived on (received) or was leaving by (sent); 0 when none. */
    public int dropIfindex() {
        return seg.get(ValueLayout.JAVA_INT, base + D_IFINDEX);
    }

    /** Whether the packet had been received (else it was being sent). */
    public boolean dropReceived() {
        return seg.get(ValueLayout.JAVA_BYTE, base + D_RX) != 0;
    }
}
