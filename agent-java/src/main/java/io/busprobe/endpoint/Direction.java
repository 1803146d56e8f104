package io.busprobe.endpoint;

import java.util.List;
import java.util.Locale;

/**
 * Which side of a connection to an endpoint this host is on. The numbers are the values the
 * kernel side stores ({@code BP_DIR_*} in {@code bpf/events.h}), so they are fixed; Java code
 * goes through {@link #id()} and {@link #ofId}, never {@code ordinal()}.
 *
 * {@snippet :
 * Direction d = Direction.ofId(ev.direction());
 * d.label(); // "client": this host connected to the bus (a producer or consumer talking to a broker)
 * }
 */
public enum Direction {
    /** Not an endpoint connection (endpoint 0, "other"). */
    NONE(0),
    /** This host connects to the endpoint: the remote port and address matched. */
    CLIENT(1),
    /** This host serves the endpoint: the local port and address matched. */
    SERVER(2);

    private final int id;

    Direction(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    /** The label in metrics, JSON and tables: {@code none}, {@code client}, {@code server}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The direction the kernel stored as {@code id}; {@link #NONE} for a number it never writes. */
    public static Direction ofId(int id) {
        for (Direction d : values()) {
            if (d.id == id) {
                return d;
            }
        }
        return NONE;
    }

    /** The directions an endpoint's traffic is counted under: {@link #NONE} for "other", client and server else. */
    public static List<Direction> of(int endpointId) {
        return endpointId == Endpoint.OTHER_ID ? List.of(NONE) : List.of(CLIENT, SERVER);
    }
}
