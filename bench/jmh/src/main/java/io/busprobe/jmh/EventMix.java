package io.busprobe.jmh;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_event;
import io.busprobe.bindings.bp_event_pressure;
import io.busprobe.bindings.bp_event_reset;
import io.busprobe.bindings.bp_event_retransmit;
import io.busprobe.bindings.bp_event_state;
import io.busprobe.bindings.bp_tuple;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * Writes {@code struct bp_event} records the way the BPF side fills them,
 * through the jextract setters only (no hand-written offsets), in a mix that
 * gives every kind and the connection table real work: connections in blocks
 * of 64, each going through the eight steps below one step per block at a
 * time, so about 64 connections are open at any moment; every fourth one IPv6.
 *
 * <pre>
 * 0 state CLOSE -> SYN_SENT   4 retransmit (rto)
 * 1 state SYN_SENT -> ESTABLISHED (opens a table entry)   5 reset_sent
 * 2 retransmit (fast)         6 state ESTABLISHED -> FIN_WAIT1
 * 3 rcvqueue_full             7 state FIN_WAIT1 -> CLOSE (closes it)
 * </pre>
 */
public final class EventMix {
    public static final int BLOCK = 64;
    public static final int STEPS = 8;

    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int IPPROTO_TCP = 6;
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_SYN_SENT = 2;
    private static final int TCP_FIN_WAIT1 = 4;
    private static final int TCP_CLOSE = 7;
    private static final byte[] COMM = "kafka-producer".getBytes(StandardCharsets.UTF_8);

    private EventMix() {
    }

    /** Step of record {@code i} in its connection's life (see the class comment). */
    public static int step(int i) {
        return (i / BLOCK) % STEPS;
    }

    /** Fill {@code rec} (at least {@code bp_event.sizeof()} bytes, cleared here) as record {@code i} of the mix. */
    public static void write(MemorySegment rec, int i, long tsNanos) {
        rec.asSlice(0, bp_event.sizeof()).fill((byte) 0);
        int conn = (i / (BLOCK * STEPS)) * BLOCK + i % BLOCK;
        bp_event.ts_ns(rec, tsNanos);
        bp_event.sock_cookie(rec, 0x1000L + conn);
        bp_event.cgroup_id(rec, 4242L);
        bp_event.pid(rec, 3100 + conn % 7);
        bp_event.tid(rec, 3200 + conn % 13);
        bp_event.netns(rec, (int) 4026531840L);
        bp_event.endpoint(rec, (short) 1);
        bp_event.direction(rec, (byte) Native.BP_DIR_CLIENT());
        bp_event.flags(rec, (byte) Native.BP_F_OWNER());
        for (int c = 0; c < 16; c++) {
            bp_event.comm(rec, c, c < COMM.length ? COMM[c] : 0);
        }
        tuple(bp_event.tuple(rec), conn);
        MemorySegment u = bp_event.u(rec);
        switch (step(i)) {
            case 0 -> state(rec, TCP_CLOSE, TCP_SYN_SENT);
            case 1 -> state(rec, TCP_SYN_SENT, TCP_ESTABLISHED);
            case 2 -> retransmit(rec, Native.BP_RETRANS_FAST());
            case 3 -> {
                kind(rec, Native.BP_KIND_RCVQUEUE_FULL(), TCP_ESTABLISHED);
                MemorySegment p = bp_event.u.pressure(u);
                bp_event_pressure.rmem_alloc(p, 212_992);
                bp_event_pressure.rcvbuf(p, 212_992);
                bp_event_pressure.truesize(p, 2_304);
                bp_event_pressure.wmem_queued(p, 0);
                bp_event_pressure.sndbuf(p, 87_040);
                bp_event_pressure.mem_kind(p, (byte) Native.BP_MEM_RECV());
            }
            case 4 -> retransmit(rec, Native.BP_RETRANS_RTO());
            case 5 -> {
                kind(rec, Native.BP_KIND_RESET_SENT(), TCP_ESTABLISHED);
                bp_event_reset.reason(bp_event.u.reset(u), 2);
            }
            case 6 -> state(rec, TCP_ESTABLISHED, TCP_FIN_WAIT1);
            default -> {
                state(rec, TCP_FIN_WAIT1, TCP_CLOSE);
                MemorySegment s = bp_event.u.state(u);
                bp_event_state.total_retrans(s, 2);
                bp_event_state.bytes_sent(s, 1_048_576L + conn);
                bp_event_state.bytes_received(s, 65_536L);
                bp_event_state.segs_out(s, 800);
                bp_event_state.segs_in(s, 400);
                bp_event_state.duration_ns(s, 2_500_000_000L);
            }
        }
    }

    private static void kind(MemorySegment rec, int kind, int tcpState) {
        bp_event.kind(rec, (short) kind);
        bp_event.state(rec, (byte) tcpState);
    }

    private static void state(MemorySegment rec, int oldState, int newState) {
        kind(rec, Native.BP_KIND_STATE(), newState);
        bp_event.flags(rec, (byte) (Native.BP_F_OWNER() | Native.BP_F_TASK_VALID()));
        MemorySegment s = bp_event.u.state(bp_event.u(rec));
        bp_event_state.old_state(s, (byte) oldState);
        bp_event_state.new_state(s, (byte) newState);
    }

    private static void retransmit(MemorySegment rec, int retransKind) {
        kind(rec, Native.BP_KIND_RETRANSMIT(), TCP_ESTABLISHED);
        MemorySegment r = bp_event.u.retransmit(bp_event.u(rec));
        bp_event_retransmit.segs(r, 1);
        bp_event_retransmit.srtt_us(r, 850);
        bp_event_retransmit.snd_cwnd(r, 10);
        bp_event_retransmit.total_retrans(r, 1);
        bp_event_retransmit.retrans_kind(r, (byte) retransKind);
        bp_event_retransmit.ca_state(r, (byte) 3);
    }

    /** 10.1.x.y:port -> 10.2.0.10:9092, or the same under fd00::/8 for every fourth connection. */
    private static void tuple(MemorySegment t, int conn) {
        boolean v6 = conn % 4 == 3;
        byte[] s = v6 ? new byte[16] : new byte[] {10, 1, (byte) (conn >> 8), (byte) conn};
        byte[] d = v6 ? new byte[16] : new byte[] {10, 2, 0, 10};
        if (v6) {
            s[0] = (byte) 0xfd;
            s[14] = (byte) (conn >> 8);
            s[15] = (byte) conn;
            d[0] = (byte) 0xfd;
            d[15] = 10;
        }
        for (int i = 0; i < 16; i++) {
            bp_tuple.saddr(t, i, i < s.length ? s[i] : 0);
            bp_tuple.daddr(t, i, i < d.length ? d[i] : 0);
        }
        bp_tuple.sport(t, (short) (40_000 + conn % 20_000));
        bp_tuple.dport(t, (short) 9092);
        bp_tuple.family(t, (short) (v6 ? AF_INET6 : AF_INET));
        bp_tuple.protocol(t, (short) IPPROTO_TCP);
    }
}
