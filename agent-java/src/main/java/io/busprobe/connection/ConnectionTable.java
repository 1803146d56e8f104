package io.busprobe.connection;

import io.busprobe.event.Addresses;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;

/**
 * Live TCP connections as the agent learns them from state and retransmit
 * records, keyed by socket cookie: endpoint, direction, owner, start time and
 * retransmits so far. A connection's close produces a tcplife-style record.
 *
 * <p>Open addressing over primitive arrays so that the per-event path never
 * allocates; 65,536 slots like the kernel's socket map. When full, new
 * connections restart the table; the kernel's per-endpoint counters stay exact
 * regardless. Records are sampled: a state
 * kind thinned by {@code busprobe sample} or by degradation leaves gaps here,
 * never in the counters.
 *
 * <p>Single-threaded: the consumer thread owns it.
 *
 * {@snippet :
 * ConnectionTable table = new ConnectionTable(closed -> log(closed));
 * table.onEvent(view); // for every record
 * }
 */
public final class ConnectionTable {
    /** A closed connection, tcplife style. Built only at close, off the hot path. */
    public record Closed(long cookie, int pid, String comm, int endpoint, int direction, long durationNanos,
                         long bytesSent, long bytesReceived, long retransmits, String saddr, int sport,
                         String daddr, int dport) {
    }

    /** Receives closed connections on the consumer thread. */
    @FunctionalInterface
    public interface CloseListener {
        void onClose(Closed c);
    }

    private static final int CAPACITY = 1 << 16;
    private static final int MASK = CAPACITY - 1;
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_CLOSE = 7;

    private final long[] cookies = new long[CAPACITY];
    private final long[] startNanos = new long[CAPACITY];
    private final long[] retrans = new long[CAPACITY];
    private final int[] pids = new int[CAPACITY];
    private final short[] endpoints = new short[CAPACITY];
    private final byte[] directions = new byte[CAPACITY];
    private final CloseListener listener;
    private int size;

    /** @param listener receives closed connections; null when nobody wants them (nothing is built then) */
    public ConnectionTable(CloseListener listener) {
        this.listener = listener;
    }

    public int size() {
        return size;
    }

    public void onEvent(EventView ev) {
        long cookie = ev.sockCookie();
        if (cookie == 0) {
            return;
        }
        EventKind kind = ev.kind();
        if (kind == EventKind.STATE) {
            if (ev.newState() == TCP_ESTABLISHED) {
                open(ev, cookie);
            } else if (ev.newState() == TCP_CLOSE) {
                close(ev, cookie);
            }
        } else if (kind == EventKind.RETRANSMIT) {
            int slot = find(cookie);
            if (slot >= 0) {
                retrans[slot] += ev.retransmitSegs();
            }
        }
    }

    private void open(EventView ev, long cookie) {
        if (find(cookie) >= 0) {
            return;
        }
        if (size >= CAPACITY / 2) {
            // Records are sampled, so a close can be missed and its entry would stay forever:
            // when the table fills, start over rather than stop tracking for good. Close
            // records still carry the kernel's own duration, so little is lost.
            java.util.Arrays.fill(cookies, 0);
            size = 0;
        }
        int slot = (int) mix(cookie) & MASK;
        while (cookies[slot] != 0) {
            slot = (slot + 1) & MASK;
        }
        cookies[slot] = cookie;
        startNanos[slot] = ev.tsNanos() - ev.stateDurationNanos();
        retrans[slot] = 0;
        pids[slot] = ev.pid();
        endpoints[slot] = (short) ev.endpoint();
        directions[slot] = (byte) ev.direction();
        size++;
    }

    private void close(EventView ev, long cookie) {
        int slot = find(cookie);
        if (ev.oldState() == 2 || ev.oldState() == 3 || ev.oldState() == 10) {
            // never established (SYN_SENT, SYN_RECV) or a listener: not a connection that lived
            if (slot >= 0) {
                remove(slot);
            }
            return;
        }
        if (listener == null) {
            // the daemon without --events: keep the per-event path allocation-free
            if (slot >= 0) {
                remove(slot);
            }
            return;
        }
        long duration = ev.stateDurationNanos();
        if (duration == 0 && slot >= 0) {
            duration = ev.tsNanos() - startNanos[slot];
        }
        listener.onClose(new Closed(cookie, ev.pid(), ev.comm(), ev.endpoint(), ev.direction(), duration,
                ev.stateBytesSent(), ev.stateBytesReceived(), ev.stateTotalRetrans(),
                Addresses.source(ev), ev.sport(), Addresses.destination(ev),
                ev.dport()));
        if (slot >= 0) {
            remove(slot);
        }
    }

    private int find(long cookie) {
        int slot = (int) mix(cookie) & MASK;
        for (int i = 0; i < CAPACITY; i++) {
            long c = cookies[slot];
            if (c == cookie) {
                return slot;
            }
            if (c == 0) {
                return -1;
            }
            slot = (slot + 1) & MASK;
        }
        return -1;
    }

    /** Backward-shift deletion keeps linear probing correct without tombstones. */
    private void remove(int slot) {
        size--;
        int hole = slot;
        int next = (hole + 1) & MASK;
        while (cookies[next] != 0) {
            int home = (int) mix(cookies[next]) & MASK;
            if (((next - home) & MASK) >= ((next - hole) & MASK)) {
                cookies[hole] = cookies[next];
                startNanos[hole] = startNanos[next];
                retrans[hole] = retrans[next];
                pids[hole] = pids[next];
                endpoints[hole] = endpoints[next];
                directions[hole] = directions[next];
                hole = next;
            }
            next = (next + 1) & MASK;
        }
        cookies[hole] = 0;
    }

    private static long mix(long x) {
        x ^= x >>> 33;
        x *= 0xff51afd7ed558ccdL;
        x ^= x >>> 33;
        return x;
    }
}
