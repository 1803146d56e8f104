package io.busprobe.endpoint;

import io.busprobe.endpoint.EndpointMatcher.Match;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The Java mirror of the kernel's endpoint match, by table. */
class EndpointMatcherTest {
    private static final EndpointMatcher MATCHER = new EndpointMatcher(EndpointConfig.of(List.of(
            new Endpoint(1, "kafka-any", BusType.KAFKA, List.of(9092), List.of()),
            new Endpoint(2, "kafka-lan", BusType.KAFKA, List.of(9092), prefixes("10.0.0.0/8")),
            new Endpoint(3, "kafka-rack", BusType.KAFKA, List.of(9092), prefixes("10.1.0.0/16", "fd00:1::/32")),
            new Endpoint(4, "kafka-v6", BusType.KAFKA, List.of(9092, 9093), prefixes("fd00::/8")),
            new Endpoint(5, "redis", BusType.REDIS, List.of(6379), List.of()),
            new Endpoint(6, "nats-host", BusType.NATS, List.of(4222), prefixes("192.168.1.10", "::1")),
            new Endpoint(7, "amqp-all-v4", BusType.AMQP, List.of(5672), prefixes("0.0.0.0/0")))));

    private static List<Prefix> prefixes(String... texts) {
        return java.util.Arrays.stream(texts).map(Prefix::parse).toList();
    }

    /** A 16-byte wire address: the address of a /32 or /128 prefix, IPv4 in the first 4 bytes. */
    static byte[] wire(String address) {
        byte[] a = Prefix.parse(address).address();
        byte[] out = new byte[16];
        System.arraycopy(a, 0, out, 0, a.length);
        return out;
    }

    static int family(String address) {
        return address.contains(":") ? Prefix.AF_INET6 : Prefix.AF_INET;
    }

    @ParameterizedTest(name = "{0}:{1} -> {2}:{3} = {4} {5}")
    @CsvSource(delimiter = '|', textBlock = """
            # local            | sport | remote         | dport | id | direction
            # port-only rule: any address, either family
            192.168.0.5        | 40000 | 172.16.0.1     | 9092  | 1  | CLIENT
            2001:db8::5        | 40000 | 2001:db8::9    | 9092  | 1  | CLIENT
            # a prefix rule beats the port-only rule; the longest prefix wins
            192.168.0.5        | 40000 | 10.2.0.1       | 9092  | 2  | CLIENT
            192.168.0.5        | 40000 | 10.1.0.1       | 9092  | 3  | CLIENT
            fd00:1:2::7        | 40000 | fd00:1::7      | 9092  | 3  | CLIENT
            fd00:1:2::7        | 40000 | fd00:2::7      | 9092  | 4  | CLIENT
            fe80::1            | 40000 | fe80::2        | 9092  | 1  | CLIENT
            # IPv4 rules never match IPv6 and vice versa
            192.168.0.5        | 40000 | 10.1.0.1       | 9093  | 0  | NONE
            ::ffff:10.1.0.1    | 40000 | ::ffff:10.1.0.1| 5672  | 0  | NONE
            # prefix-only ports: outside every prefix is no match
            10.0.0.5           | 40000 | 192.168.1.11   | 4222  | 0  | NONE
            10.0.0.5           | 40000 | 192.168.1.10   | 4222  | 6  | CLIENT
            ::1                | 40000 | ::1            | 4222  | 6  | CLIENT
            10.0.0.5           | 40000 | 8.8.8.8        | 5672  | 7  | CLIENT
            # server side: the local port and address match
            10.0.0.5           | 6379  | 10.0.0.9       | 51000 | 5  | SERVER
            10.1.0.5           | 9092  | 172.16.0.1     | 51000 | 3  | SERVER
            192.168.1.10       | 4222  | 10.0.0.9       | 51000 | 6  | SERVER
            192.168.1.11       | 4222  | 10.0.0.9       | 51000 | 0  | NONE
            # both sides match: the remote side is checked first
            10.0.0.5           | 6379  | 10.1.0.9       | 9092  | 3  | CLIENT
            # remote prefix misses, local side serves
            10.0.0.5           | 6379  | 192.168.1.11   | 4222  | 5  | SERVER
            # nothing
            10.0.0.5           | 40000 | 10.0.0.9       | 80    | 0  | NONE
            10.0.0.5           | 65535 | 10.0.0.9       | 1     | 0  | NONE
            """)
    void matches(String local, int sport, String remote, int dport, int id, Direction direction) {
        Match m = MATCHER.match(family(remote), wire(local), sport, wire(remote), dport);
        assertThat(m).isEqualTo(new Match(id, direction));
    }

    @Test
    void noEndpointIsOther() {
        Match m = MATCHER.match(Prefix.AF_INET, wire("10.0.0.1"), 1, wire("10.0.0.2"), 2);
        assertThat(m).isSameAs(EndpointMatcher.OTHER);
        assertThat(m.endpointId()).isZero();
        assertThat(m.direction()).isEqualTo(Direction.NONE);
    }

    @Test
    void defaultsMatchTheWellKnownPorts() {
        EndpointMatcher d = new EndpointMatcher(EndpointConfig.defaults());
        byte[] a = wire("10.0.0.1");
        byte[] b = wire("10.0.0.2");
        assertThat(d.match(Prefix.AF_INET, a, 50000, b, 9092)).isEqualTo(new Match(1, Direction.CLIENT));
        assertThat(d.match(Prefix.AF_INET, a, 6379, b, 50000)).isEqualTo(new Match(2, Direction.SERVER));
        assertThat(d.match(Prefix.AF_INET, a, 50000, b, 4222)).isEqualTo(new Match(3, Direction.CLIENT));
        assertThat(d.match(Prefix.AF_INET, a, 5672, b, 50000)).isEqualTo(new Match(4, Direction.SERVER));
        assertThat(d.match(Prefix.AF_INET, a, 50000, b, 9093)).isEqualTo(EndpointMatcher.OTHER);
    }
}
