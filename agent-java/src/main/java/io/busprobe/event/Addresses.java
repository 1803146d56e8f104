package io.busprobe.event;

/** Address text of a record, for the sinks and for closed connections. */
public final class Addresses {
    private Addresses() {
    }

    public static String source(EventView ev) {
        return ev.family() == EventView.AF_INET6 ? ev.saddr().getHostAddress() : v4(ev.saddrV4());
    }

    public static String destination(EventView ev) {
        return ev.family() == EventView.AF_INET6 ? ev.daddr().getHostAddress() : v4(ev.daddrV4());
    }

    /** Dotted quad of a big-endian IPv4 address. */
    public static String v4(int a) {
        return (a >>> 24) + "." + ((a >>> 16) & 0xff) + "." + ((a >>> 8) & 0xff) + "." + (a & 0xff);
    }

    public static String familyName(int family) {
        return switch (family) {
            case EventView.AF_INET -> "ipv4";
            case EventView.AF_INET6 -> "ipv6";
            default -> "af" + family;
        };
    }
}
