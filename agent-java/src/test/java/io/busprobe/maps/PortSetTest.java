package io.busprobe.maps;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.endpoint.Prefix;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The port set the kernel checks before a trie lookup (endpoint_ports): every rule's port, nothing else. */
class PortSetTest {
    @Test
    void holdsEveryRulesPortAtItsBitAndNoOther() {
        EndpointConfig config = EndpointConfig.of(List.of(
                new Endpoint(1, "low", BusType.OTHER, List.of(1, 63, 64), List.of()),
                new Endpoint(2, "high", BusType.REDIS, List.of(6379, 65535), List.of(Prefix.parse("10.0.0.0/8"),
                        Prefix.parse("fd00::/8")))));

        long[] words = EndpointMaps.portSet(config.lpmEntries());

        assertThat(words).hasSize(1024);
        assertThat(words[0]).isEqualTo(1L << 1 | 1L << 63);
        assertThat(words[1]).isEqualTo(1L);
        assertThat(words[6379 / 64]).isEqualTo(1L << (6379 % 64));
        assertThat(words[1023]).isEqualTo(Long.MIN_VALUE);
        assertThat(Arrays.stream(words).map(Long::bitCount).sum()).as("five ports, one bit each").isEqualTo(5);
    }

    @Test
    void theDefaultEndpointsPortsAreInIt() {
        EndpointConfig defaults = EndpointConfig.defaults();
        long[] words = EndpointMaps.portSet(defaults.lpmEntries());
        defaults.lpmEntries().forEach(e ->
                assertThat(words[e.port() >>> 6] >>> (e.port() & 63) & 1).as("port %d", e.port()).isEqualTo(1L));
    }
}
