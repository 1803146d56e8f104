package io.busprobe.endpoint;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * One element of the endpoint {@code BPF_MAP_TYPE_LPM_TRIE}: a key prefix and the endpoint id
 * it maps to. The key mirrors
 *
 * <pre>{@code
 * struct endpoint_key {
 *     __u32 prefixlen;   // bits of data[] that must match
 *     __u8  data[20];    // port (2, big-endian) | family (1) | address (16) | pad (1)
 * };
 * }</pre>
 *
 * <p>Why this order: the trie matches bit prefixes from the start of {@code data}, so the port
 * comes first and every rule includes all 16 of its bits; a port-only rule stops there
 * ({@value #PORT_ONLY_PREFIX_LEN} bits) and therefore covers both families and any address,
 * while a prefix rule adds the family byte and its prefix length, so it is always longer and
 * wins over the port-only rule, and the longer of two prefixes wins over the shorter. The pad
 * byte keeps the key a multiple of four bytes (24) without ever being part of a prefix. The port
 * is big-endian (network order, as {@code bpf/events.h} carries it) because the trie compares
 * bytes most significant first.
 *
 * {@snippet :
 * for (LpmEntry e : config.lpmEntries()) {
 *     // bpf_map_update_elem(fd, {e.prefixLen(), e.data()}, e.endpointId(), BPF_ANY)
 * }
 * byte[] key = LpmEntry.lookupKeyData(9092, Prefix.AF_INET, daddr16); // looked up with prefixlen 152
 * }
 *
 * @param prefixLen  the key's {@code prefixlen}: {@value #PORT_ONLY_PREFIX_LEN} for a port-only
 *                   rule, 24 + the address prefix length for a prefix rule
 * @param data       the key's {@code data[]}, {@value #DATA_SIZE} bytes, zero beyond the prefix
 * @param endpointId the value: the endpoint's id
 */
public record LpmEntry(int prefixLen, byte[] data, int endpointId) {
    /** {@code sizeof(data)}. */
    public static final int DATA_SIZE = 20;
    /** A rule for a port and nothing else. */
    public static final int PORT_ONLY_PREFIX_LEN = 16;
    /** The prefix length a lookup key carries: port, family and the whole address. */
    public static final int LOOKUP_PREFIX_LEN = 16 + 8 + 128;

    // data[] offsets
    static final int PORT_OFFSET = 0;
    static final int FAMILY_OFFSET = 2;
    static final int ADDRESS_OFFSET = 3;

    public LpmEntry {
        if (data == null || data.length != DATA_SIZE) {
            throw new IllegalArgumentException("LPM key data has " + DATA_SIZE + " bytes");
        }
        if (prefixLen < PORT_ONLY_PREFIX_LEN || prefixLen > LOOKUP_PREFIX_LEN) {
            throw new IllegalArgumentException("LPM prefix length " + prefixLen + " out of range "
                    + PORT_ONLY_PREFIX_LEN + ".." + LOOKUP_PREFIX_LEN);
        }
        data = data.clone();
    }

    /** The entry that maps {@code port} with any address to {@code endpointId}. */
    static LpmEntry portOnly(int port, int endpointId) {
        byte[] data = new byte[DATA_SIZE];
        putPort(data, port);
        return new LpmEntry(PORT_ONLY_PREFIX_LEN, data, endpointId);
    }

    /** The entry that maps {@code port} with an address in {@code prefix} to {@code endpointId}. */
    static LpmEntry forPrefix(int port, Prefix prefix, int endpointId) {
        byte[] data = new byte[DATA_SIZE];
        putPort(data, port);
        data[FAMILY_OFFSET] = (byte) prefix.family();
        byte[] a = prefix.address();
        System.arraycopy(a, 0, data, ADDRESS_OFFSET, a.length);
        return new LpmEntry(PORT_ONLY_PREFIX_LEN + 8 + prefix.length(), data, endpointId);
    }

    /**
     * The {@code data[]} of a lookup key (used with {@value #LOOKUP_PREFIX_LEN}) for a connection
     * side: its port, family and 16-byte wire address (IPv4 in the first 4 bytes).
     */
    public static byte[] lookupKeyData(int port, int family, byte[] addr16) {
        if (addr16.length != Prefix.WIRE_ADDRESS_SIZE) {
            throw new IllegalArgumentException("wire addresses have 16 bytes, not " + addr16.length);
        }
        byte[] data = new byte[DATA_SIZE];
        putPort(data, port);
        data[FAMILY_OFFSET] = (byte) family;
        System.arraycopy(addr16, 0, data, ADDRESS_OFFSET, Prefix.WIRE_ADDRESS_SIZE);
        return data;
    }

    /** The port every key under this entry carries: its first 16 bits, which every entry includes. */
    public int port() {
        return (data[PORT_OFFSET] & 0xff) << 8 | (data[PORT_OFFSET + 1] & 0xff);
    }

    /** A copy: entries are shared values. */
    @Override
    public byte[] data() {
        return data.clone();
    }

    /** Whether a full-length lookup key {@code key} falls under this entry, as the trie decides. */
    boolean matches(byte[] key) {
        for (int bit = 0; bit < prefixLen; bit++) {
            int mask = 0x80 >>> (bit & 7);
            if ((key[bit >>> 3] & mask) != (data[bit >>> 3] & mask)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LpmEntry e && e.prefixLen == prefixLen && e.endpointId == endpointId
                && Arrays.equals(e.data, data);
    }

    @Override
    public int hashCode() {
        return (prefixLen * 31 + endpointId) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "LpmEntry[prefixLen=" + prefixLen + ", data=" + HexFormat.of().formatHex(data)
                + ", endpointId=" + endpointId + "]";
    }

    private static void putPort(byte[] data, int port) {
        data[PORT_OFFSET] = (byte) (port >>> 8);
        data[PORT_OFFSET + 1] = (byte) port;
    }
}
