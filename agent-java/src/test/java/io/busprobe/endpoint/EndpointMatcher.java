package io.busprobe.endpoint;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which endpoint a TCP connection belongs to, decided in Java exactly as the kernel decides it
 * ({@code bp_match_endpoint} in {@code bpf/endpoint.bpf.h} over the {@code endpoints} LPM trie):
 * first the remote side (destination port and address), which makes this host the
 * {@link Direction#CLIENT}; otherwise the local side (source port and address), which makes it
 * the {@link Direction#SERVER}; otherwise endpoint 0, {@link Direction#NONE}. Among the rules
 * of a port the longest matching prefix wins, and a port-only rule matches any address but
 * loses to every prefix rule, as a longer LPM key would.
 *
 * <p>The order matters only when both sides match (say, one bus port connecting to another);
 * the mirror keeps the kernel's order so that both give the same answer.
 *
 * <p>Immutable and safe to share between threads. {@link #match} does not allocate: the
 * results are preallocated per endpoint and direction.
 *
 * {@snippet :
 * var matcher = new EndpointMatcher(EndpointConfig.defaults());
 * // this host, 10.0.0.5:40000, connected to 10.0.0.9:9092
 * EndpointMatcher.Match m = matcher.match(Prefix.AF_INET, local16, 40000, remote16, 9092);
 * // m = Match[endpointId=1, direction=CLIENT]
 * }
 */
public final class EndpointMatcher {
    /**
     * The result of a match.
     *
     * @param endpointId 1..63, or 0 for "other"
     * @param direction  which side this host is on; {@link Direction#NONE} exactly when the id is 0
     */
    public record Match(int endpointId, Direction direction) {
    }

    /** No endpoint matched. */
    public static final Match OTHER = new Match(Endpoint.OTHER_ID, Direction.NONE);

    // A rule of one port; prefix null is a port-only rule.
    private record Rule(Prefix prefix, int endpointId) {
        int lpmPrefixLen() {
            return prefix == null ? LpmEntry.PORT_ONLY_PREFIX_LEN : LpmEntry.PORT_ONLY_PREFIX_LEN + 8 + prefix.length();
        }
    }

    private final int[] ports;     // sorted, for a binary search without boxing
    private final Rule[][] rules;  // rules[i] for ports[i], longest prefix first
    private final Match[] client = new Match[Endpoint.MAX_ID + 1];
    private final Match[] server = new Match[Endpoint.MAX_ID + 1];

    public EndpointMatcher(EndpointConfig config) {
        Map<Integer, List<Rule>> byPort = new TreeMap<>();
        for (Endpoint e : config.endpoints()) {
            for (int port : e.ports()) {
                List<Rule> list = byPort.computeIfAbsent(port, p -> new ArrayList<>());
                if (e.addresses().isEmpty()) {
                    list.add(new Rule(null, e.id()));
                }
                for (Prefix p : e.addresses()) {
                    list.add(new Rule(p, e.id()));
                }
            }
            client[e.id()] = new Match(e.id(), Direction.CLIENT);
            server[e.id()] = new Match(e.id(), Direction.SERVER);
        }
        ports = byPort.keySet().stream().mapToInt(Integer::intValue).toArray();
        rules = byPort.values().stream()
                .map(l -> l.stream().sorted(Comparator.comparingInt(Rule::lpmPrefixLen).reversed()).toArray(Rule[]::new))
                .toArray(Rule[][]::new);
    }

    /**
     * The endpoint of a connection seen from this host, with addresses in the kernel's 16-byte
     * wire format (IPv4 in the first 4 bytes) and ports in host order.
     */
    public Match match(int family, byte[] saddr16, int sport, byte[] daddr16, int dport) {
        int id = lookup(dport, family, daddr16);
        if (id != Endpoint.OTHER_ID) {
            return client[id];
        }
        id = lookup(sport, family, saddr16);
        if (id != Endpoint.OTHER_ID) {
            return server[id];
        }
        return OTHER;
    }

    /** The endpoint id of one side, or 0: what one lookup in the LPM trie returns. */
    int lookup(int port, int family, byte[] addr16) {
        int i = Arrays.binarySearch(ports, port);
        if (i < 0) {
            return Endpoint.OTHER_ID;
        }
        for (Rule r : rules[i]) {
            if (r.prefix == null || r.prefix.contains(family, addr16)) {
                return r.endpointId;
            }
        }
        return Endpoint.OTHER_ID;
    }
}
