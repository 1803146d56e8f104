package io.busprobe.event;

/**
 * Address text of a record, for the sinks and for closed connections: IPv4 dotted, IPv6 in the
 * RFC 5952 form ({@code ::1}, {@code fd00::1}), never the JDK's {@code 0:0:0:0:0:0:0:1}.
 *
 * <pre>{@code
 * Addresses.text(EventView.AF_INET6, addr16)   // "fd00:1::2"
 * }</pre>
 */
public final class Addresses {
    private Addresses() {
    }

    public static String source(EventView ev) {
        return ev.family() == EventView.AF_INET6 ? v6(ev.saddr().getAddress()) : v4(ev.saddrV4());
    }

    public static String destination(EventView ev) {
        return ev.family() == EventView.AF_INET6 ? v6(ev.daddr().getAddress()) : v4(ev.daddrV4());
    }

    /** An address of the wire format: 4 bytes for AF_INET (or the first 4 of 16), 16 for AF_INET6. */
    public static String text(int family, byte[] addr) {
        if (family == EventView.AF_INET6) {
            return v6(addr);
        }
        return v4((addr[0] & 0xff) << 24 | (addr[1] & 0xff) << 16 | (addr[2] & 0xff) << 8 | (addr[3] & 0xff));
    }

    /** Dotted quad of a big-endian IPv4 address. */
    public static String v4(int a) {
        return (a >>> 24) + "." + ((a >>> 16) & 0xff) + "." + ((a >>> 8) & 0xff) + "." + (a & 0xff);
    }

    /**
     * RFC 5952 text of 16 bytes: lower-case hex without leading zeros, the first longest run of
     * two or more zero groups as {@code ::}.
     */
    public static String v6(byte[] a) {
        if (a.length == 4) {
            return text(EventView.AF_INET, a); // InetAddress makes ::ffff:a.b.c.d an Inet4Address
        }
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = (a[2 * i] & 0xff) << 8 | (a[2 * i + 1] & 0xff);
        }
        int best = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && g[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                best = i;
                bestLen = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == best) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    public static String familyName(int family) {
        return switch (family) {
            case EventView.AF_INET -> "ipv4";
            case EventView.AF_INET6 -> "ipv6";
            default -> "af" + family;
        };
    }
}
