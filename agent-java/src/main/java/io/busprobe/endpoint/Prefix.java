package io.busprobe.endpoint;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Arrays;

import static io.busprobe.text.Messages.quoted;

/**
 * An IPv4 or IPv6 address prefix in CIDR form, matched against addresses in the kernel's wire
 * format.
 *
 * <p>The wire format is the one of {@code bpf/events.h} and of the endpoint LPM key: a 16-byte
 * field in network byte order, where an IPv4 address fills the first 4 bytes and the rest is
 * zero. {@link #contains} takes that field as is, so the per-event path never converts.
 *
 * <p>Parsing is literal only (never a DNS lookup) and strict: a prefix with host bits set is
 * almost always a typo for a different network, so it is rejected with the network it probably
 * meant. The array components make a record compare by identity, so equality, hashing and the
 * accessor are overridden to work by value on a private copy.
 *
 * {@snippet :
 * Prefix p = Prefix.parse("10.0.0.0/8");
 * byte[] wire = new byte[16];
 * wire[0] = 10; wire[3] = 7;                   // 10.0.0.7
 * boolean in = p.contains(Prefix.AF_INET, wire); // true
 * String cidr = p.toString();                    // "10.0.0.0/8"
 * }
 *
 * @param family  {@link #AF_INET} or {@link #AF_INET6}
 * @param address the network address, 4 or 16 bytes, host bits zero
 * @param length  prefix length in bits, 0..32 or 0..128
 */
public record Prefix(int family, byte[] address, int length) {
    /** {@code AF_INET} from {@code <sys/socket.h>}, as the kernel reports it. */
    public static final int AF_INET = 2;
    /** {@code AF_INET6} from {@code <sys/socket.h>}, as the kernel reports it. */
    public static final int AF_INET6 = 10;
    /** Size of the kernel's address field, whatever the family. */
    public static final int WIRE_ADDRESS_SIZE = 16;

    public Prefix {
        int size = switch (family) {
            case AF_INET -> 4;
            case AF_INET6 -> 16;
            default -> throw new IllegalArgumentException("family must be AF_INET (2) or AF_INET6 (10), not " + family);
        };
        if (address == null || address.length != size) {
            throw new IllegalArgumentException("a family " + family + " address has " + size + " bytes");
        }
        if (length < 0 || length > size * 8) {
            throw new IllegalArgumentException("prefix length " + length + " out of range 0.." + size * 8);
        }
        address = address.clone();
        if (!Arrays.equals(address, masked(address, length))) {
            throw new IllegalArgumentException("address " + quoted(format(family, address, length))
                    + ": host bits set, did you mean " + format(family, masked(address, length), length) + "?");
        }
    }

    /**
     * Parses {@code 10.0.0.0/8}, {@code fd00::/8}, or a single address ({@code 10.1.2.3} is
     * {@code /32}, {@code ::1} is {@code /128}). IPv4 is dotted decimal with four parts and no
     * leading zeros, because {@code inet_aton} would read {@code 010} as octal; IPv6 takes no
     * brackets and no zone ({@code %eth0}), which a prefix cannot carry.
     *
     * @throws IllegalArgumentException naming the text and what is wrong with it
     */
    public static Prefix parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty address; write a prefix such as 10.0.0.0/8 or fd00::/8");
        }
        int slash = text.indexOf('/');
        String addr = slash < 0 ? text : text.substring(0, slash);
        boolean v6 = addr.indexOf(':') >= 0;
        byte[] bytes = v6 ? parseIpv6(addr) : parseIpv4(addr);
        if (bytes == null) {
            throw new IllegalArgumentException("bad address " + quoted(text)
                    + "; write an IPv4 or IPv6 prefix such as 10.0.0.0/8 or fd00::/8");
        }
        int max = bytes.length * 8;
        int length = max;
        if (slash >= 0) {
            String len = text.substring(slash + 1);
            length = len.matches("0|[1-9][0-9]{0,2}") ? Integer.parseInt(len) : -1;
            if (length < 0 || length > max) {
                throw new IllegalArgumentException("bad prefix length in " + quoted(text) + "; "
                        + (v6 ? "IPv6" : "IPv4") + " lengths are 0.." + max);
            }
        }
        return new Prefix(v6 ? AF_INET6 : AF_INET, bytes, length);
    }

    /** A copy: the record must stay immutable to be a map key and a shared config value. */
    @Override
    public byte[] address() {
        return address.clone();
    }

    /**
     * Whether {@code addr16}, an address in the kernel's 16-byte wire format (IPv4 in the first
     * 4 bytes), of family {@code family}, lies in this prefix. Another family never matches: an
     * IPv4 rule does not cover an IPv6 connection and vice versa.
     */
    public boolean contains(int family, byte[] addr16) {
        if (addr16.length != WIRE_ADDRESS_SIZE) {
            throw new IllegalArgumentException("wire addresses have 16 bytes, not " + addr16.length);
        }
        if (family != this.family) {
            return false;
        }
        int full = length >>> 3;
        for (int i = 0; i < full; i++) {
            if (addr16[i] != address[i]) {
                return false;
            }
        }
        int rest = length & 7;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (addr16[full] & mask) == (address[full] & 0xff);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Prefix p && p.family == family && p.length == length && Arrays.equals(p.address, address);
    }

    @Override
    public int hashCode() {
        return (family * 31 + length) * 31 + Arrays.hashCode(address);
    }

    /** CIDR form, IPv6 compressed as RFC 5952 asks, always with the length. */
    @Override
    public String toString() {
        return format(family, address, length);
    }

    private static byte[] masked(byte[] address, int length) {
        byte[] out = address.clone();
        for (int bit = length; bit < out.length * 8; bit++) {
            out[bit >>> 3] &= (byte) ~(0x80 >>> (bit & 7));
        }
        return out;
    }

    private static byte[] parseIpv4(String s) {
        if (!s.matches("(?:(?:0|[1-9][0-9]{0,2})\\.){3}(?:0|[1-9][0-9]{0,2})")) {
            return null;
        }
        String[] parts = s.split("\\.");
        byte[] out = new byte[4];
        for (int i = 0; i < 4; i++) {
            int v = Integer.parseInt(parts[i]);
            if (v > 255) {
                return null;
            }
            out[i] = (byte) v;
        }
        return out;
    }

    private static byte[] parseIpv6(String s) {
        // ofLiteral never resolves names; brackets and zones it accepts are not prefix syntax.
        if (s.indexOf('[') >= 0 || s.indexOf('%') >= 0) {
            return null;
        }
        InetAddress a;
        try {
            a = Inet6Address.ofLiteral(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (a instanceof Inet4Address v4) {
            // ofLiteral turns ::ffff:a.b.c.d into IPv4; the kernel keeps it as IPv6 on a
            // dual-stack socket, so the rule must stay IPv6 to match those connections.
            byte[] out = new byte[16];
            out[10] = (byte) 0xff;
            out[11] = (byte) 0xff;
            System.arraycopy(v4.getAddress(), 0, out, 12, 4);
            return out;
        }
        return a.getAddress();
    }

    private static String format(int family, byte[] a, int length) {
        StringBuilder sb = new StringBuilder();
        if (family == AF_INET) {
            for (int i = 0; i < 4; i++) {
                sb.append(i == 0 ? "" : ".").append(a[i] & 0xff);
            }
        } else {
            int[] g = new int[8];
            for (int i = 0; i < 8; i++) {
                g[i] = (a[2 * i] & 0xff) << 8 | (a[2 * i + 1] & 0xff);
            }
            // RFC 5952: compress the first longest run of two or more zero groups.
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
            for (int i = 0; i < 8; i++) {
                if (i == best) {
                    sb.append("::");
                    i += bestLen - 1;
                    continue;
                }
                if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                    sb.append(':');
                }
                sb.append(Integer.toHexString(g[i]));
            }
        }
        return sb.append('/').append(length).toString();
    }
}
