package io.busprobe.endpoint;

import java.util.Locale;

import static io.busprobe.text.Messages.quoted;

/**
 * The kind of event bus an endpoint speaks. The bus only labels metrics and output; matching
 * is by port and address, never by protocol inspection.
 *
 * <p>{@link #id()} is the number stored next to an endpoint in kernel maps and must never be
 * renumbered: a daemon and a {@code busprobe status} of another build read the same pinned maps.
 *
 * {@snippet :
 * BusType bus = BusType.ofLabel("kafka"); // BusType.KAFKA
 * int id = bus.id();                      // 1
 * }
 */
public enum BusType {
    KAFKA(1),
    REDIS(2),
    NATS(3),
    AMQP(4),
    HTTP(5),
    OTHER(6);

    // The "choose ..." hint of an unknown bus, in declaration order.
    private static final String CHOICES = "kafka, redis, nats, amqp, http or other";

    private final int id;

    BusType(int id) {
        this.id = id;
    }

    /** Stable wire number, 1..6; 0 is left for "no endpoint". */
    public int id() {
        return id;
    }

    /** Lowercase name used in the config file, JSON and metric labels. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The label of a bus type id as the kernel maps hold it: {@code none} for 0, the bus of the
     * {@link Endpoint#OTHER_NAME other} traffic, which belongs to no endpoint (not {@code other},
     * a bus a configured endpoint may have), and {@code unknown} for an id this build does not
     * know (a map written by another version).
     */
    public static String labelOf(int id) {
        if (id == 0) {
            return "none";
        }
        for (BusType b : values()) {
            if (b.id == id) {
                return b.label();
            }
        }
        return "unknown";
    }

    /**
     * The bus for a config label, exactly as {@link #label()} writes it.
     *
     * @throws IllegalArgumentException naming the label and the choices
     */
    public static BusType ofLabel(String label) {
        for (BusType b : values()) {
            if (b.label().equals(label)) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown bus " + quoted(label) + "; choose " + CHOICES);
    }
}
