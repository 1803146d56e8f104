package io.busprobe.bpf;

import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;

import java.util.List;

/**
 * The BPF programs in busprobe.bpf.o: program name (as in bpf/*.bpf.c), the
 * kernel tracepoint it hooks, and the kind it emits.
 */
public enum Probe {
    TCP_RETRANSMIT_SKB("handle_tcp_retransmit_skb", "tcp", "tcp_retransmit_skb", EventKind.RETRANSMIT),
    TCP_RETRANSMIT_SYNACK("handle_tcp_retransmit_synack", "tcp", "tcp_retransmit_synack",
            EventKind.RETRANSMIT_SYNACK),
    INET_SOCK_SET_STATE("handle_inet_sock_set_state", "sock", "inet_sock_set_state", EventKind.STATE),
    TCP_SEND_RESET("handle_tcp_send_reset", "tcp", "tcp_send_reset", EventKind.RESET_SENT),
    TCP_RECEIVE_RESET("handle_tcp_receive_reset", "tcp", "tcp_receive_reset", EventKind.RESET_RECEIVED),
    SOCK_RCVQUEUE_FULL("handle_sock_rcvqueue_full", "sock", "sock_rcvqueue_full", EventKind.RCVQUEUE_FULL),
    SOCK_EXCEED_BUF_LIMIT("handle_sock_exceed_buf_limit", "sock", "sock_exceed_buf_limit",
            EventKind.EXCEED_BUF_LIMIT),
    KFREE_SKB("handle_kfree_skb", "skb", "kfree_skb", EventKind.DROP),
    /** Not an event source: counts the SYNs a full accept queue turned away, which are freed as consumed. */
    CONSUME_SKB("handle_consume_skb", "skb", "consume_skb", EventKind.DROP),
    /** Not event sources: they learn the owner of accepted sockets for attribution. */
    SYS_EXIT_ACCEPT4("handle_sys_exit_accept4", "syscalls", "sys_exit_accept4", EventKind.STATE),
    SYS_EXIT_ACCEPT("handle_sys_exit_accept", "syscalls", "sys_exit_accept", EventKind.STATE),
    /** Not event sources: they tag bus clients' sends with their topics, for the retransmit probe. */
    SYS_ENTER_WRITE("handle_sys_enter_write", "syscalls", "sys_enter_write", EventKind.RETRANSMIT),
    SYS_EXIT_WRITE("handle_sys_exit_write", "syscalls", "sys_exit_write", EventKind.RETRANSMIT),
    SYS_ENTER_WRITEV("handle_sys_enter_writev", "syscalls", "sys_enter_writev", EventKind.RETRANSMIT),
    SYS_EXIT_WRITEV("handle_sys_exit_writev", "syscalls", "sys_exit_writev", EventKind.RETRANSMIT),
    SYS_ENTER_SENDTO("handle_sys_enter_sendto", "syscalls", "sys_enter_sendto", EventKind.RETRANSMIT),
    SYS_EXIT_SENDTO("handle_sys_exit_sendto", "syscalls", "sys_exit_sendto", EventKind.RETRANSMIT),
    SYS_ENTER_SENDMSG("handle_sys_enter_sendmsg", "syscalls", "sys_enter_sendmsg", EventKind.RETRANSMIT),
    SYS_EXIT_SENDMSG("handle_sys_exit_sendmsg", "syscalls", "sys_exit_sendmsg", EventKind.RETRANSMIT),
    /** A BPF iterator over TCP sockets: the agent runs it to bring endpoint traffic counters up to date. */
    TCP_TRAFFIC_ITER("refresh_tcp_traffic", "iter", "tcp", EventKind.STATE);

    private final String program;
    private final String system;
    private final String tracepoint;
    private final EventKind kind;

    Probe(String program, String system, String tracepoint, EventKind kind) {
        this.program = program;
        this.system = system;
        this.tracepoint = tracepoint;
        this.kind = kind;
    }

    public String program() {
        return program;
    }

    /** {@code system:event}, as in /sys/kernel/tracing/events. */
    public String tracepoint() {
        return system + ":" + tracepoint;
    }

    /** A classic tracepoint (found through tracefs) rather than a BTF-enabled raw one. */
    boolean isClassic() {
        return system.equals("syscalls");
    }

    /** Whether this probe only feeds attribution and counters and emits no records of its own. */
    public boolean learnsOnly() {
        return isClassic() || isIterator() || this == CONSUME_SKB;
    }

    /** A BPF iterator, run on demand by the agent rather than by a kernel event. */
    boolean isIterator() {
        return system.equals("iter");
    }

    /**
     * What the kernel's BTF must have for this probe to load: the typedef every raw
     * tracepoint has (tp_btf programs attach through it), or the iterator's function.
     */
    String btfTypedef() {
        return isIterator() ? "bpf_iter_" + tracepoint : "btf_trace_" + tracepoint;
    }

    /** tracefs path of a classic tracepoint, relative to the tracefs mount. */
    String tracefsPath() {
        return "events/" + system + "/" + tracepoint;
    }

    /** The kind this probe's records mostly are; {@link #kinds()} lists every kind it emits. */
    public EventKind kind() {
        return kind;
    }

    /**
     * Every kind this probe emits: tcp_retransmit_skb also reports the attempts the
     * kernel did not count, as {@link EventKind#RETRANSMIT_FAILED}.
     */
    public List<EventKind> kinds() {
        return this == TCP_RETRANSMIT_SKB ? List.of(kind, EventKind.RETRANSMIT_FAILED)
                : List.of(kind);
    }

    public Family family() {
        return kind.family();
    }
}
