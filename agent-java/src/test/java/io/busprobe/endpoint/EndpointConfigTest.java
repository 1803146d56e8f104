package io.busprobe.endpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Loading endpoint files: what is accepted, and the one-line error for each kind of mistake. */
class EndpointConfigTest {
    @TempDir
    Path dir;

    private Path write(String yaml) throws IOException {
        return Files.writeString(dir.resolve("endpoints.yaml"), yaml);
    }

    @Test
    void loadsTheDocumentedExample() throws IOException {
        EndpointConfig c = EndpointConfig.load(write("""
                endpoints:
                  - name: orders-kafka
                    bus: kafka
                    ports: [9092, 9093]
                  - name: stock-redis
                    bus: redis
                    ports: [6379]
                    addresses: [10.0.0.0/8, "fd00::/8"]
                """));
        assertThat(c.endpoints()).containsExactly(
                new Endpoint(1, "orders-kafka", BusType.KAFKA, List.of(9092, 9093), List.of()),
                new Endpoint(2, "stock-redis", BusType.REDIS, List.of(6379),
                        List.of(Prefix.parse("10.0.0.0/8"), Prefix.parse("fd00::/8"))));
        assertThat(c.byId(2)).map(Endpoint::name).hasValue("stock-redis");
        assertThat(c.byId(0)).isEmpty();
        assertThat(c.byId(3)).isEmpty();
    }

    @Test
    void loadsBlockStyleIpv6AndSharedPorts() throws IOException {
        // Same port with different prefixes, and a port-only fallback: allowed, longest prefix wins.
        EndpointConfig c = EndpointConfig.load(write("""
                # bus endpoints of the eu cluster
                endpoints:
                  - name: nats-v6
                    bus: nats
                    ports:
                      - 4222
                    addresses:
                      - "::1"
                      - 2001:db8::/32
                      - fd00::/8
                  - name: nats-lan
                    bus: nats
                    ports: ['4222', 6222]
                    addresses: [10.0.0.0/8]
                  - name: nats.any_1
                    bus: other
                    ports: [4222]
                  - bus: http
                    name: web
                    ports: [80, 443, 8080]
                    addresses: []
                """));
        assertThat(c.endpoints()).extracting(Endpoint::id).containsExactly(1, 2, 3, 4);
        assertThat(c.endpoints().get(0).addresses()).map(Prefix::toString)
                .containsExactly("::1/128", "2001:db8::/32", "fd00::/8");
        assertThat(c.endpoints().get(1).ports()).containsExactly(4222, 6222);
        assertThat(c.endpoints().get(3).bus()).isEqualTo(BusType.HTTP);
        assertThat(c.endpoints().get(3).addresses()).isEmpty();
    }

    @Test
    void defaultsCoverTheWellKnownBusPorts() {
        EndpointConfig d = EndpointConfig.defaults();
        assertThat(d.endpoints()).extracting(e -> e.id() + ":" + e.name() + ":" + e.bus().label() + ":" + e.ports())
                .containsExactly("1:kafka:kafka:[9092]", "2:redis:redis:[6379]", "3:nats:nats:[4222]",
                        "4:amqp:amqp:[5672]");
        assertThat(d.endpoints()).allSatisfy(e -> assertThat(e.addresses()).isEmpty());
    }

    @Test
    void acceptsTheMaximumNumberOfEndpoints() throws IOException {
        EndpointConfig c = EndpointConfig.load(write(endpoints(63)));
        assertThat(c.endpoints()).hasSize(63);
        assertThat(c.byId(63)).map(Endpoint::name).hasValue("e63");
    }

    private static String endpoints(int n) {
        return "endpoints:\n" + IntStream.rangeClosed(1, n)
                .mapToObj(i -> "  - {name: e" + i + ", bus: other, ports: [" + (10000 + i) + "]}\n")
                .collect(Collectors.joining());
    }

    static Stream<Arguments> invalidFiles() {
        return Stream.of(
                arguments("unknown bus", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                          - name: audit
                            ports: [9093]
                            bus: kafak
                        """, "7: unknown bus 'kafak'; choose kafka, redis, nats, amqp, http or other"),
                arguments("unknown key, near miss", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            port: 9092
                        """, "4: unknown key 'port'; did you mean 'ports'?"),
                arguments("unknown key, misspelt", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            adresses: [10.0.0.0/8]
                        """, "5: unknown key 'adresses'; did you mean 'addresses'?"),
                arguments("unknown key, far off", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            id: 7
                            ports: [9092]
                        """, "4: unknown key 'id'; the keys here are name, bus, ports, addresses, admin"),
                arguments("unknown top-level key", """
                        endpoint:
                          - name: orders
                        """, "1: unknown key 'endpoint'; did you mean 'endpoints'?"),
                arguments("missing name", """
                        endpoints:
                          - name: a
                            bus: kafka
                            ports: [9092]
                          - bus: kafka
                            ports: [9093]
                        """, "5: endpoint has no name; add name: followed by a-z, 0-9, '_', '.', '-'"),
                arguments("missing bus", """
                        endpoints:
                          - name: orders
                            ports: [9092]
                        """, "2: endpoint 'orders' has no bus; add bus: kafka, redis, nats, amqp, http or other"),
                arguments("missing ports", """
                        endpoints:
                          - name: orders
                            bus: kafka
                        """, "2: endpoint 'orders' has no ports; add ports: [PORT, ...]"),
                arguments("empty value", """
                        endpoints:
                          - name: orders
                            bus:
                            ports: [9092]
                        """, "3: 'bus' has no value"),
                arguments("port out of range", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092,
                                    70000]
                        """, "5: port 70000 out of range; ports are 1..65535"),
                arguments("port zero", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [0]
                        """, "4: port 0 out of range; ports are 1..65535"),
                arguments("port not a number", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [kafka]
                        """, "4: bad port 'kafka'; ports are numbers 1..65535"),
                arguments("port negative", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [-1]
                        """, "4: bad port '-1'; ports are numbers 1..65535"),
                arguments("ports not a list", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: 9092
                        """, "4: 'ports' must be a list, e.g. ports: [9092], found '9092'"),
                arguments("ports empty", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: []
                        """, "4: 'ports' is empty; list at least one, e.g. ports: [9092]"),
                arguments("duplicate port", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092, 9093, 9092]
                        """, "4: port 9092 listed twice in 'orders'"),
                arguments("bad name", """
                        endpoints:
                          - name: Orders
                            bus: kafka
                            ports: [9092]
                        """, "2: bad name 'Orders'; names are 1-32 characters of a-z, 0-9, '_', '.', '-',"
                                + " starting with a letter or digit"),
                arguments("name too long", """
                        endpoints:
                          - name: a23456789012345678901234567890123
                            bus: kafka
                            ports: [9092]
                        """, "2: bad name 'a23456789012345678901234567890123'; names are 1-32 characters"),
                arguments("name not a scalar", """
                        endpoints:
                          - name: [a, b]
                            bus: kafka
                            ports: [9092]
                        """, "2: 'name' must be a single value, found a list"),
                arguments("duplicate name", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                          - name: orders
                            bus: kafka
                            ports: [9093]
                        """, "5: duplicate name 'orders', first used on line 2; names must be unique"),
                arguments("duplicate key", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            bus: redis
                        """, "5: duplicate key 'bus', first on line 3"),
                arguments("host bits set", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses:
                              - 10.0.0.0/8
                              - 10.0.0.1/8
                        """, "7: address '10.0.0.1/8': host bits set, did you mean 10.0.0.0/8?"),
                arguments("bad address", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses: [kafka-1.internal]
                        """, "5: bad address 'kafka-1.internal'; write an IPv4 or IPv6 prefix such as 10.0.0.0/8 or"
                                + " fd00::/8"),
                arguments("duplicate address", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses: [10.0.0.0/8, 10.0.0.0/8]
                        """, "5: address 10.0.0.0/8 listed twice in 'orders'"),
                arguments("addresses empty value", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses:
                        """, "5: 'addresses' has no value"),
                arguments("overlap without addresses", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092, 9093]
                          - name: audit
                            bus: kafka
                            ports:
                              - 9094
                              - 9093
                        """, "9: endpoints 'orders' (line 4) and 'audit' both claim port 9093 with any address;"
                                + " give one of them addresses or drop the port from one"),
                arguments("overlap with the same prefix", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses: [10.0.0.0/8, "fd00::/8"]
                          - name: audit
                            bus: kafka
                            ports: [9092]
                            addresses: [fd00::/8]
                        """, "8: endpoints 'orders' (line 4) and 'audit' both claim port 9092 for fd00::/8;"
                                + " drop the port or the address from one of them"),
                arguments("endpoints not a list", """
                        endpoints:
                          name: orders
                        """, "2: 'endpoints' must be a list of endpoints (lines starting with '- '), found a mapping"),
                arguments("endpoints empty", """
                        endpoints: []
                        """, "1: 'endpoints' is empty; list at least one endpoint"),
                arguments("endpoints no value", """
                        endpoints:
                        """, "1: 'endpoints' has no value"),
                arguments("endpoint not a mapping", """
                        endpoints:
                          - orders
                        """, "2: an endpoint must be a mapping with name, bus and ports, found 'orders'"),
                arguments("file is a list", """
                        - name: orders
                        """, "1: the file must be a mapping starting with 'endpoints:', found a list"),
                arguments("file is a scalar", """
                        kafka
                        """, "1: the file must be a mapping starting with 'endpoints:', found 'kafka'"),
                arguments("empty file", "", "1: empty file; expected 'endpoints:' and a list of endpoints"),
                arguments("only comments", "# nothing yet\n",
                        "1: empty file; expected 'endpoints:' and a list of endpoints"),
                arguments("YAML: unclosed flow list", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092
                        """, "5: invalid YAML: while parsing a flow sequence, expected ',' or ']', but got <stream end>"),
                arguments("YAML: tab indentation", "endpoints:\n\t- name: orders\n",
                        "2: invalid YAML: while scanning for the next token, found character"),
                arguments("YAML: unquoted ::1", """
                        endpoints:
                          - name: orders
                            bus: kafka
                            ports: [9092]
                            addresses: [::1]
                        """, "5: invalid YAML: while parsing a flow node, expected the node content, but found ':';"
                                + " quote IPv6 addresses, e.g. \"::1\""),
                arguments("YAML: bad indentation", """
                        endpoints:
                          - name: orders
                            bus: kafka
                           ports: [9092]
                        """, "4: invalid YAML: while parsing a block collection, expected <block end>, but found"
                                + " '<block mapping start>'; check the indentation"),
                arguments("YAML: two documents", """
                        endpoints: []
                        ---
                        endpoints: []
                        """, "2: invalid YAML: expected a single document in the stream, but found another document"),
                arguments("YAML: control character", "endpoints:\n  - name: \"a\u0007\"\n",
                        "2: invalid YAML: special characters are not allowed (U+0007)"),
                arguments("too many endpoints", endpoints(64), "65: too many endpoints; at most 63 (ids 1..63, 0 is"
                        + " the 'other' bucket)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidFiles")
    void rejectsWithOneLineNamingFileAndLine(String what, String yaml, String expected) throws IOException {
        Path file = write(yaml);
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(file + ":" + expected)
                .message().doesNotContain("\n");
    }

    /** Issue 15, misleading 5: a configured 'other' made two different series of that name. */
    @Test
    void anEndpointMayNotBeNamedOther() throws IOException {
        Path file = write("""
                endpoints:
                  - name: orders
                    bus: kafka
                    ports: [9092]
                  - name: other
                    bus: other
                    ports: [7000]
                """);
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ":5: the name 'other' is reserved for traffic of no endpoint; choose another name "
                        + "(e.g. other-bus)");
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("nope.yaml");
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ": no such file");
    }

    @Test
    void directory() {
        assertThatThrownBy(() -> EndpointConfig.load(dir))
                .isInstanceOf(ConfigException.class)
                .hasMessage(dir + ": is a directory; give the endpoint YAML file");
    }

    @Test
    void pathThroughAFile() throws IOException {
        Path file = write("endpoints: []\n").resolve("x.yaml");
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ": no such file (" + file.getParent() + " is not a directory)");
    }

    @Test
    void notUtf8() throws IOException {
        Path file = Files.write(dir.resolve("latin1.yaml"), new byte[] {'#', ' ', (byte) 0xe9, '\n'});
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ":1: not UTF-8 text (byte 0xe9 at offset 2); save it as UTF-8");
    }

    @Test
    void ofValidatesLikeTheFile() {
        Endpoint a = new Endpoint(1, "a", BusType.KAFKA, List.of(9092), List.of());
        Endpoint b = new Endpoint(2, "b", BusType.KAFKA, List.of(9092), List.of());
        Endpoint a2 = new Endpoint(2, "a", BusType.REDIS, List.of(6379), List.of());
        Endpoint a1 = new Endpoint(1, "c", BusType.REDIS, List.of(6379), List.of());
        assertThatThrownBy(() -> EndpointConfig.of(List.of(a, b)))
                .hasMessage("endpoints 'a' and 'b' both claim port 9092 with any address;"
                        + " give one of them addresses or drop the port from one");
        assertThatThrownBy(() -> EndpointConfig.of(List.of(a, a2))).hasMessage("endpoint name 'a' used twice");
        assertThatThrownBy(() -> EndpointConfig.of(List.of(a, a1))).hasMessage("endpoint id 1 used twice");
        Endpoint b10 = new Endpoint(2, "b", BusType.KAFKA, List.of(9092), List.of(Prefix.parse("10.0.0.0/8")));
        assertThat(EndpointConfig.of(List.of(a, b10)).endpoints()).containsExactly(a, b10);
    }

    @Test
    void rejectsMoreRulesThanTheKernelMapHolds() throws IOException {
        // 2 ports x 2049 prefixes = 4098 entries > 4096
        String prefixes = IntStream.range(0, 2049).mapToObj(i -> "10." + (i >> 8) + "." + (i & 255) + ".0/24")
                .collect(Collectors.joining(", "));
        Path file = write("endpoints:\n  - name: big\n    bus: kafka\n    ports: [1, 2]\n    addresses: ["
                + prefixes + "]\n");
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessage(file + ":2: too many rules; the endpoints up to 'big' need 4098 kernel entries"
                        + " (ports x addresses), at most 4096");
    }

    @Test
    void endpointValidates() {
        assertThatThrownBy(() -> new Endpoint(0, "a", BusType.KAFKA, List.of(1), List.of()))
                .hasMessageContaining("0 is reserved");
        assertThatThrownBy(() -> new Endpoint(64, "a", BusType.KAFKA, List.of(1), List.of()))
                .hasMessageContaining("1..63");
        assertThatThrownBy(() -> new Endpoint(1, "a", BusType.KAFKA, List.of(), List.of()))
                .hasMessage("endpoint 'a' has no ports; list at least one");
        assertThatThrownBy(() -> new Endpoint(1, "", BusType.KAFKA, List.of(1), List.of()))
                .hasMessageStartingWith("bad name ''");
        assertThatThrownBy(() -> new Endpoint(1, "-a", BusType.KAFKA, List.of(1), List.of()))
                .hasMessageStartingWith("bad name '-a'");
    }
}
