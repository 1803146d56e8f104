package io.busprobe.event;

import io.busprobe.bindings.Native;

/**
 * {@code enum bp_retrans_kind}: what triggered a retransmission, told apart the
 * way the kernel's MIBs tell them apart (see bpf/tcp_retransmit.bpf.c).
 */
public final class RetransKind {
    public static final int UNKNOWN = Native.BP_RETRANS_UNKNOWN();
    public static final int RTO = Native.BP_RETRANS_RTO();
    public static final int FAST = Native.BP_RETRANS_FAST();
    public static final int TLP = Native.BP_RETRANS_TLP();
    public static final int SYN = Native.BP_RETRANS_SYN();
    public static final int SYNACK = Native.BP_RETRANS_SYNACK();

    private static final String[] NAMES = {"unknown", "rto", "fast", "tlp", "syn", "synack"};

    /** Number of triggers ({@code BP_RETRANS_KINDS}): the size of the per-trigger counters. */
    public static final int COUNT = Native.BP_RETRANS_KINDS();

    static {
        if (NAMES.length != COUNT) {
            throw new ExceptionInInitializerError("RetransKind names " + NAMES.length + " triggers, bpf/events.h "
                    + COUNT);
        }
    }

    private RetransKind() {
    }

    public static String name(int kind) {
        return kind >= 0 && kind < NAMES.length ? NAMES[kind] : "unknown";
    }
}
