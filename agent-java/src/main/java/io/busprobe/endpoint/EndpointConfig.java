package io.busprobe.endpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static io.busprobe.text.Messages.quoted;

/**
 * The bus endpoints busprobe attributes connections to: an immutable, validated list, and its
 * encoding for the kernel's {@code endpoints} LPM trie.
 *
 * <p>Rules may share a port as long as they differ in address prefix: the longest matching
 * prefix wins and a port-only rule (no addresses) is the fallback. Two endpoints claiming the
 * same port with the same prefix (or both with none) would leave the winner to the order of map
 * updates, so that is rejected.
 *
 * {@snippet :
 * EndpointConfig config = EndpointConfig.loadOrDefaults(file);
 * Optional<Endpoint> kafka = config.byId(1);
 * List<LpmEntry> rules = config.lpmEntries(); // what the daemon writes to the kernel
 * }
 */
public final class EndpointConfig {
    /** At most as many endpoints as there are ids. */
    public static final int MAX_ENDPOINTS = Endpoint.MAX_ID;
    /** {@code max_entries} of the {@code endpoints} LPM trie in {@code bpf/endpoint.bpf.h}. */
    public static final int MAX_RULES = 4096;

    private static final EndpointConfig DEFAULTS = of(List.of(
            new Endpoint(1, "kafka", BusType.KAFKA, List.of(9092), List.of()),
            new Endpoint(2, "redis", BusType.REDIS, List.of(6379), List.of()),
            new Endpoint(3, "nats", BusType.NATS, List.of(4222), List.of()),
            new Endpoint(4, "amqp", BusType.AMQP, List.of(5672), List.of())));

    private final List<Endpoint> endpoints;
    private final Endpoint[] byId = new Endpoint[Endpoint.MAX_ID + 1]; // sinks name every event

    private EndpointConfig(List<Endpoint> endpoints) {
        this.endpoints = endpoints;
        for (Endpoint e : endpoints) {
            byId[e.id()] = e;
        }
    }

    /**
     * A config of these endpoints.
     *
     * @throws IllegalArgumentException for more than {@value #MAX_ENDPOINTS} endpoints, a
     *         repeated id or name, two endpoints claiming the same port and prefix, or more
     *         rules than the kernel map holds
     */
    public static EndpointConfig of(List<Endpoint> endpoints) {
        List<Endpoint> list = List.copyOf(endpoints);
        if (list.size() > MAX_ENDPOINTS) {
            throw new IllegalArgumentException(list.size() + " endpoints; at most " + MAX_ENDPOINTS);
        }
        Set<Integer> ids = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (Endpoint e : list) {
            if (!ids.add(e.id())) {
                throw new IllegalArgumentException("endpoint id " + e.id() + " used twice");
            }
            if (!names.add(e.name())) {
                throw new IllegalArgumentException("endpoint name " + quoted(e.name()) + " used twice");
            }
        }
        findOverlap(list).ifPresent(o -> {
            throw new IllegalArgumentException(o.message(""));
        });
        int rules = list.stream().mapToInt(EndpointConfig::ruleCount).sum();
        if (rules > MAX_RULES) {
            throw new IllegalArgumentException(rules + " rules (ports x addresses); the kernel map holds " + MAX_RULES);
        }
        return new EndpointConfig(list);
    }

    /**
     * The well-known bus ports, so that a run without a config file already separates bus
     * traffic from the rest: kafka 9092, redis 6379, nats 4222, amqp 5672, ids 1..4.
     */
    public static EndpointConfig defaults() {
        return DEFAULTS;
    }

    /**
     * Reads a YAML endpoint file; ids are assigned 1..N in file order.
     *
     * {@snippet lang=yaml :
     * endpoints:
     *   - name: orders-kafka
     *     bus: kafka
     *     ports: [9092, 9093]
     *   - name: stock-redis
     *     bus: redis
     *     ports: [6379]
     *     addresses: [10.0.0.0/8, "fd00::/8"]
     * }
     *
     * @throws ConfigException with one line {@code FILE:LINE: problem; fix} for any problem
     */
    /** {@link #load} of {@code file}, or {@link #defaults} when there is no file (null). */
    public static EndpointConfig loadOrDefaults(Path file) {
        return file == null ? defaults() : load(file);
    }

    public static EndpointConfig load(Path file) {
        return EndpointYaml.load(file);
    }

    /** In id order for a loaded file. */
    public List<Endpoint> endpoints() {
        return endpoints;
    }

    /** The endpoint with this id; empty for 0 ("other") and for ids not configured. */
    public Optional<Endpoint> byId(int id) {
        return id >= 0 && id < byId.length ? Optional.ofNullable(byId[id]) : Optional.empty();
    }

    /**
     * The LPM trie entries: one per port for an endpoint without addresses, else one per
     * (port, prefix) pair.
     */
    public List<LpmEntry> lpmEntries() {
        List<LpmEntry> out = new ArrayList<>();
        for (Endpoint e : endpoints) {
            for (int port : e.ports()) {
                if (e.addresses().isEmpty()) {
                    out.add(LpmEntry.portOnly(port, e.id()));
                }
                for (Prefix p : e.addresses()) {
                    out.add(LpmEntry.forPrefix(port, p, e.id()));
                }
            }
        }
        return List.copyOf(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EndpointConfig c && c.endpoints.equals(endpoints);
    }

    @Override
    public int hashCode() {
        return endpoints.hashCode();
    }

    @Override
    public String toString() {
        return "EndpointConfig" + endpoints;
    }

    static int ruleCount(Endpoint e) {
        return e.ports().size() * Math.max(1, e.addresses().size());
    }

    /** Two endpoints that claim the same port and prefix; {@code prefix} null means no addresses. */
    record Overlap(Endpoint first, Endpoint second, int port, Prefix prefix) {
        /** {@code firstWhere} follows the first endpoint's name, e.g. " (line 3)". */
        String message(String firstWhere) {
            String what = prefix == null ? "with any address" : "for " + prefix;
            String fix = prefix == null ? "give one of them addresses or drop the port from one"
                    : "drop the port or the address from one of them";
            return "endpoints " + quoted(first.name()) + firstWhere + " and " + quoted(second.name())
                    + " both claim port " + port + " " + what + "; " + fix;
        }
    }

    /** The first overlap in list order, so a file reports the later endpoint as the culprit. */
    static Optional<Overlap> findOverlap(List<Endpoint> endpoints) {
        record Claim(int port, Prefix prefix) {
        }
        Map<Claim, Endpoint> owners = new HashMap<>();
        for (Endpoint e : endpoints) {
            for (int port : e.ports()) {
                List<Prefix> prefixes = e.addresses().isEmpty() ? Collections.singletonList(null)
                        : e.addresses();
                for (Prefix p : prefixes) {
                    Endpoint first = owners.putIfAbsent(new Claim(port, p), e);
                    if (first != null) {
                        return Optional.of(new Overlap(first, e, port, p));
                    }
                }
            }
        }
        return Optional.empty();
    }
}
