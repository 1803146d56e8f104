package io.busprobe.testutil;

import io.busprobe.bindings.bp_event;
import io.busprobe.bindings.bp_event_pressure;
import io.busprobe.bindings.bp_event_reset;
import io.busprobe.bindings.bp_event_retransmit;
import io.busprobe.bindings.bp_event_state;
import io.busprobe.bindings.bp_tuple;
import io.busprobe.event.EventKind;

import java.lang.foreign.MemorySegment;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;

/**
 * Writes a {@code struct bp_event} the way the BPF side does, through the
 * generated jextract setters only, so tests never hard-code offsets.
 */
public final class UnitEvent {
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int IPPROTO_TCP = 6;

    private final MemorySegment rec;

    private UnitEvent(MemorySegment rec) {
        this.rec = rec;
    }

    /** A writer for the record at the start of {@code rec}; clears it first. */
    public static UnitEvent at(MemorySegment rec) {
        MemorySegment s = rec.asSlice(0, bp_event.sizeof());
        s.fill((byte) 0);
        return new UnitEvent(s);
    }

    /** A writer for the record at {@code offset} in {@code seg}; clears it first. */
    public static UnitEvent at(MemorySegment seg, long offset) {
        return at(seg.asSlice(offset, bp_event.sizeof()));
    }

    public MemorySegment segment() {
        return rec;
    }

    public UnitEvent kind(EventKind kind) {
        return kindId(kind.id());
    }

    public UnitEvent kindId(int id) {
        bp_event.kind(rec, (short) id);
        return this;
    }

    public UnitEvent ts(long ns) {
        bp_event.ts_ns(rec, ns);
        return this;
    }

    public UnitEvent cookie(long cookie) {
        bp_event.sock_cookie(rec, cookie);
        return this;
    }

    public UnitEvent task(int pid, int tid, String comm) {
        bp_event.pid(rec, pid);
        bp_event.tid(rec, tid);
        return comm(comm.getBytes(StandardCharsets.UTF_8));
    }

    /** Raw comm bytes: up to 16, the rest NUL (16 bytes means no terminator, as the kernel allows). */
    public UnitEvent comm(byte[] b) {
        if (b.length > 16) {
            throw new IllegalArgumentException("comm is at most 16 bytes");
        }
        for (int i = 0; i < 16; i++) {
            bp_event.comm(rec, i, i < b.length ? b[i] : 0);
        }
        return this;
    }

    public UnitEvent netns(int inode) {
        bp_event.netns(rec, inode);
        return this;
    }

    public UnitEvent state(int tcpState) {
        bp_event.state(rec, (byte) tcpState);
        return this;
    }

    public UnitEvent flags(int flags) {
        bp_event.flags(rec, (byte) flags);
        return this;
    }

    /** The tuple; the family follows from the address type (both must be the same family). */
    public UnitEvent tuple(String saddr, int sport, String daddr, int dport) {
        InetAddress s = literal(saddr);
        InetAddress d = literal(daddr);
        if ((s instanceof Inet6Address) != (d instanceof Inet6Address)) {
            throw new IllegalArgumentException("mixed families");
        }
        MemorySegment t = bp_event.tuple(rec);
        byte[] sb = s.getAddress();
        byte[] db = d.getAddress();
        for (int i = 0; i < 16; i++) {
            bp_tuple.saddr(t, i, i < sb.length ? sb[i] : 0);
            bp_tuple.daddr(t, i, i < db.length ? db[i] : 0);
        }
        bp_tuple.sport(t, (short) sport);
        bp_tuple.dport(t, (short) dport);
        bp_tuple.family(t, (short) (s instanceof Inet6Address ? AF_INET6 : AF_INET));
        bp_tuple.protocol(t, (short) IPPROTO_TCP);
        return this;
    }

    public UnitEvent protocol(int protocol) {
        bp_tuple.protocol(bp_event.tuple(rec), (short) protocol);
        return this;
    }

    public UnitEvent retransmit(int segs, int err, int srttUs, int sndCwnd, int totalRetrans, int retransKind,
                                int caState) {
        MemorySegment r = bp_event.u.retransmit(bp_event.u(rec));
        bp_event_retransmit.segs(r, segs);
        bp_event_retransmit.err(r, err);
        bp_event_retransmit.srtt_us(r, srttUs);
        bp_event_retransmit.snd_cwnd(r, sndCwnd);
        bp_event_retransmit.total_retrans(r, totalRetrans);
        bp_event_retransmit.retrans_kind(r, (byte) retransKind);
        bp_event_retransmit.ca_state(r, (byte) caState);
        return this;
    }

    /** A retransmit record's topic tag (after {@link #retransmit}). */
    public UnitEvent topic(long tag) {
        bp_event_retransmit.topic(bp_event.u.retransmit(bp_event.u(rec)), tag);
        return this;
    }

    public UnitEvent stateChange(int oldState, int newState) {
        MemorySegment s = bp_event.u.state(bp_event.u(rec));
        bp_event_state.old_state(s, (byte) oldState);
        bp_event_state.new_state(s, (byte) newState);
        return state(newState);
    }

    public UnitEvent reset(int reason) {
        bp_event_reset.reason(bp_event.u.reset(bp_event.u(rec)), reason);
        return this;
    }

    public UnitEvent pressure(long allocated, int rmemAlloc, int rcvbuf, int truesize, int wmemQueued, int sndbuf,
                              int memKind) {
        MemorySegment p = bp_event.u.pressure(bp_event.u(rec));
        bp_event_pressure.allocated(p, allocated);
        bp_event_pressure.rmem_alloc(p, rmemAlloc);
        bp_event_pressure.rcvbuf(p, rcvbuf);
        bp_event_pressure.truesize(p, truesize);
        bp_event_pressure.wmem_queued(p, wmemQueued);
        bp_event_pressure.sndbuf(p, sndbuf);
        bp_event_pressure.mem_kind(p, (byte) memKind);
        return this;
    }

    /** Parses an address literal; never resolves names. */
    public static InetAddress literal(String addr) {
        if (!addr.matches("[0-9a-fA-F.:]+")) {
            throw new IllegalArgumentException("not an address literal: " + addr);
        }
        try {
            return InetAddress.getByName(addr);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(addr, e);
        }
    }
}
