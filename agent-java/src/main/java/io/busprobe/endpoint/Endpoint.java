package io.busprobe.endpoint;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import static io.busprobe.text.Messages.quoted;

/**
 * One bus endpoint: the ports, and optionally the address prefixes, whose connections belong
 * to a named bus. Validated when built, so an {@code Endpoint} is always one the kernel side can
 * encode.
 *
 * <p>The id is 1..{@value #MAX_ID} because it indexes the kernel's per-endpoint array maps,
 * sized {@code BP_MAX_ENDPOINTS} (64) in {@code bpf/events.h}; 0 is the "other" bucket for every
 * connection no endpoint claims.
 *
 * {@snippet :
 * var orders = new Endpoint(1, "orders-kafka", BusType.KAFKA, List.of(9092, 9093), List.of());
 * var stock = new Endpoint(2, "stock-redis", BusType.REDIS, List.of(6379),
 *         List.of(Prefix.parse("10.0.0.0/8"), Prefix.parse("fd00::/8")));
 * }
 *
 * @param id        1..63, unique in a config; assigned in file order by {@link EndpointConfig#load}
 * @param name      1-32 characters of {@code [a-z0-9][a-z0-9_.-]*}: safe as a metric label value
 *                  and in a file name
 * @param bus       what kind of bus it is
 * @param ports     1..65535, at least one, no duplicates
 * @param addresses prefixes the address must fall in; empty means any address
 * @param admin     for a kafka endpoint, where busprobe asks the names of the topic IDs that
 *                  Produce v13+ sends; null for none
 */
public record Endpoint(int id, String name, BusType bus, List<Integer> ports, List<Prefix> addresses,
                       KafkaAdmin admin) {
    /** Highest endpoint id: {@code BP_MAX_ENDPOINTS - 1} of {@code bpf/events.h}. */
    public static final int MAX_ID = 63;
    /** The id of connections that match no endpoint. */
    public static final int OTHER_ID = 0;
    /**
     * The name they are counted under everywhere (metrics, JSON, tables). Their bus is
     * {@link BusType#labelOf labelled} {@code none} and their direction is {@link Direction#NONE}:
     * not {@code other}, which is a bus type a configured endpoint may have.
     */
    public static final String OTHER_NAME = "other";

    private static final int MAX_NAME = 32;

    /** An endpoint without a Kafka admin connection. */
    public Endpoint(int id, String name, BusType bus, List<Integer> ports, List<Prefix> addresses) {
        this(id, name, bus, ports, addresses, null);
    }

    public Endpoint {
        if (id < 1 || id > MAX_ID) {
            throw new IllegalArgumentException("endpoint id " + id + " out of range 1.." + MAX_ID
                    + " (0 is reserved for other traffic)");
        }
        checkName(name);
        Objects.requireNonNull(bus, "bus");
        ports = List.copyOf(Objects.requireNonNull(ports, "ports"));
        addresses = List.copyOf(Objects.requireNonNull(addresses, "addresses"));
        if (ports.isEmpty()) {
            throw new IllegalArgumentException("endpoint " + quoted(name) + " has no ports; list at least one");
        }
        Set<Integer> seenPorts = new HashSet<>();
        for (int p : ports) {
            checkPort(p);
            if (!seenPorts.add(p)) {
                throw new IllegalArgumentException("port " + p + " listed twice in " + quoted(name));
            }
        }
        if (admin != null && bus != BusType.KAFKA) {
            throw new IllegalArgumentException("'admin' is for kafka endpoints (it asks the broker for topic names); "
                    + quoted(name) + " is " + bus.label());
        }
        Set<Prefix> seenPrefixes = new HashSet<>();
        for (Prefix a : addresses) {
            if (!seenPrefixes.add(a)) {
                throw new IllegalArgumentException("address " + a + " listed twice in " + quoted(name));
            }
        }
    }

    /** @throws IllegalArgumentException saying what a name may be */
    static void checkName(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_NAME || !name.matches("[a-z0-9][a-z0-9_.-]*")) {
            throw new IllegalArgumentException("bad name " + quoted(name) + "; names are 1-" + MAX_NAME
                    + " characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit");
        }
        // a second series named other, beside the catch-all's, would be two different things under one name
        if (name.equals(OTHER_NAME)) {
            throw new IllegalArgumentException("the name " + quoted(OTHER_NAME) + " is reserved for traffic of no endpoint; "
                    + "choose another name (e.g. other-bus)");
        }
    }

    /** @throws IllegalArgumentException saying what a port may be */
    static void checkPort(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " out of range; ports are 1..65535");
        }
    }
}
