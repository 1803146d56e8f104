package io.busprobe.sink;

import io.busprobe.event.Addresses;
import io.busprobe.bpf.DropReasons;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.event.RetransKind;
import io.busprobe.event.TcpState;
import io.busprobe.maps.KindStats;
import io.busprobe.text.Messages;

import java.io.PrintStream;
import java.util.Map;

/**
 * Human-readable columns in the style of bcc's tcpretrans/tcpstates. A process name is whatever
 * the process set ({@code prctl(PR_SET_NAME)}), so it is escaped before it reaches a terminal.
 */
public final class TableSink implements EventSink {
    private static final String FORMAT = "%-12s %-17s %7s %-16s %-22s %-22s %-12s %-16s %s%n";

    private final PrintStream out;
    private final EndpointNames endpoints;
    private final long startNanos = System.nanoTime();
    private boolean header;

    public TableSink(PrintStream out, EndpointNames endpoints) {
        this.out = out;
        this.endpoints = endpoints;
    }

    @Override
    public void event(EventView ev) {
        if (!header) {
            out.printf(FORMAT, "TIME(s)", "KIND", "PID", "COMM", "LADDR:LPORT", "RADDR:RPORT", "STATE", "ENDPOINT",
                    "DETAIL");
            header = true;
        }
        EventKind kind = ev.kind();
        String detail = kind == null ? "" : switch (kind) {
            case RETRANSMIT, RETRANSMIT_SYNACK, RETRANSMIT_FAILED -> "segs=" + ev.retransmitSegs() + " "
                    + RetransKind.name(ev.retransmitKind()) + " seq=" + ev.retransmitSeq() + ":" + ev.retransmitEndSeq()
                    + (ev.retransmitErr() != 0 ? " err=" + ev.retransmitErr() : "");
            case STATE -> TcpState.name(ev.oldState()) + " -> " + TcpState.name(ev.newState())
                    + (ev.newState() == 7 && ev.stateSegsOut() > 0 ? String.format(" tx=%dB rx=%dB retrans=%d%s",
                    ev.stateBytesSent(), ev.stateBytesReceived(), ev.stateTotalRetrans(),
                    ev.stateDurationNanos() > 0 ? String.format(" %.3fs", ev.stateDurationNanos() / 1e9) : "") : "");
            case RESET_SENT, RESET_RECEIVED -> ev.resetReason() != 0 ? "reason=" + ev.resetReason() : "";
            case RCVQUEUE_FULL -> "rmem=" + ev.rmemAlloc() + "/" + ev.rcvbuf() + " truesize=" + ev.truesize();
            case EXCEED_BUF_LIMIT -> ev.memKind() + " rmem=" + ev.rmemAlloc() + " wmem=" + ev.wmemQueued();
            case DROP -> DropReasons.running().name(ev.dropReason()) + (ev.dropReceived() ? " rx" : " tx")
                    + (DropReasons.running().loss(ev.dropReason()) ? "" : " (no loss)");
        };
        boolean task = ev.taskValid();
        out.printf(FORMAT,
                String.format("%.6f", (ev.tsNanos() - startNanos) / 1e9),
                kind == null ? "?" + ev.kindId() : kind.label(),
                task ? Integer.toString(ev.pid()) : "-",
                task ? Messages.oneLine(ev.comm()) : "-",
                endpoint(Addresses.source(ev), ev.sport(), ev.family()),
                endpoint(Addresses.destination(ev), ev.dport(), ev.family()),
                TcpState.name(ev.state()),
                Messages.oneLine(endpoints.name(ev.endpoint())) + (ev.direction() == 0 ? "" : "/" + EndpointNames.direction(ev.direction())),
                detail);
    }

    private static String endpoint(String addr, int port, int family) {
        return (family == EventView.AF_INET6 ? "[" + addr + "]" : addr) + ":" + port;
    }

    @Override
    public void flush() {
        out.flush();
    }

    @Override
    public void summary(Summary s) {
        out.printf("%n%-18s %10s %12s %10s %10s %10s%n", "KIND", "SEEN", "SAMPLED_OUT", "SUBMITTED", "DROPPED",
                "SEGS");
        for (Map.Entry<EventKind, KindStats> e : s.kinds().entrySet()) {
            KindStats k = e.getValue();
            out.printf("%-18s %10d %12d %10d %10d %10s%n", e.getKey().label(), k.seen(), k.sampledOut(),
                    k.submitted(), k.dropped(),
                    e.getKey().family() == EventKind.Family.RETRANSMIT ? Long.toString(k.segs()) : "-");
        }
        if (!s.dropReasons().isEmpty()) {
            out.printf("%n%-28s %10s%n", "DROP REASON", "PACKETS");
            s.dropReasons().forEach((reason, n) -> out.printf("%-28s %10d%n", reason, n));
        }
                out.printf("records read %d, dropped %d, in %.1f s%n", s.recordsRead(), s.dropped(), s.durationMs() / 1e3);
        out.flush();
    }

    @Override
    public void close() {
        out.flush();
    }
}
