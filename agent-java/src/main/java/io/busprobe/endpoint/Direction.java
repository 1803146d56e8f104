package io.busprobe.endpoint;

/**
 * Which side of a connection to an endpoint this host is on. The numbers are the values the
 * kernel side stores, so they are fixed.
 *
 * {@snippet :
 * var m = matcher.match(family, saddr, sport, daddr, dport);
 * if (m.direction() == Direction.CLIENT) {
 *     // this host connected to the bus (a producer or consumer talking to a broker)
 * }
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
}
