package io.busprobe.event;

/** TCP state names as in include/net/tcp_states.h (TCP_ESTABLISHED = 1 ...). */
public final class TcpState {
    private static final String[] NAMES = {
        "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
        "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE",
    };

    private TcpState() {
    }

    public static String name(int state) {
        return state >= 0 && state < NAMES.length ? NAMES[state] : "UNKNOWN";
    }
}
