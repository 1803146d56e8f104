package io.busprobe.event;

/** {@code enum bp_retrans_kind}: what triggered a retransmission, as far as socket state shows. */
public final class RetransKind {
    private static final String[] NAMES = {"unknown", "rto", "fast", "tlp", "syn", "synack"};

    private RetransKind() {
    }

    public static String name(int kind) {
        return kind >= 0 && kind < NAMES.length ? NAMES[kind] : "unknown";
    }
}
