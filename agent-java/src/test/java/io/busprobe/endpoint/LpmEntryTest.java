package io.busprobe.endpoint;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The encoding of endpoint rules for the kernel's LPM trie ({@code struct bp_endpoint_key}). */
class LpmEntryTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void portOnlyRule() {
        var config = EndpointConfig.of(List.of(
                new Endpoint(5, "kafka", BusType.KAFKA, List.of(9092, 443), List.of())));
        assertThat(config.lpmEntries()).containsExactly(
                //              port fam address                          pad
                new LpmEntry(16, HEX.parseHex("2384" + "00" + "00".repeat(16) + "00"), 5),
                new LpmEntry(16, HEX.parseHex("01bb" + "00" + "00".repeat(16) + "00"), 5));
    }

    @Test
    void prefixRules() {
        var config = EndpointConfig.of(List.of(new Endpoint(2, "redis", BusType.REDIS, List.of(6379),
                List.of(Prefix.parse("10.1.0.0/16"), Prefix.parse("fd00::/8"), Prefix.parse("192.168.1.10")))));
        assertThat(config.lpmEntries()).containsExactly(
                // 16 port bits + 8 family bits + prefix length
                new LpmEntry(40, HEX.parseHex("18eb" + "02" + "0a010000" + "00".repeat(12) + "00"), 2),
                new LpmEntry(32, HEX.parseHex("18eb" + "0a" + "fd" + "00".repeat(15) + "00"), 2),
                new LpmEntry(56, HEX.parseHex("18eb" + "02" + "c0a8010a" + "00".repeat(12) + "00"), 2));
    }

    @Test
    void oneEntryPerPortAndPrefix() {
        var config = EndpointConfig.of(List.of(
                new Endpoint(1, "a", BusType.KAFKA, List.of(1, 2, 3), List.of(Prefix.parse("10.0.0.0/8"),
                        Prefix.parse("::1"))),
                new Endpoint(2, "b", BusType.KAFKA, List.of(1), List.of())));
        assertThat(config.lpmEntries()).hasSize(7);
        assertThat(config.lpmEntries()).extracting(LpmEntry::prefixLen).containsExactly(32, 152, 32, 152, 32, 152, 16);
    }

    @Test
    void lookupKey() {
        byte[] addr = new byte[16];
        addr[0] = 10;
        addr[3] = 7;
        assertThat(HEX.formatHex(LpmEntry.lookupKeyData(9092, Prefix.AF_INET, addr)))
                .isEqualTo("2384" + "02" + "0a000007" + "00".repeat(12) + "00");
        assertThat(LpmEntry.LOOKUP_PREFIX_LEN).isEqualTo(152);
        assertThat(LpmEntry.DATA_SIZE).isEqualTo(20);
        assertThatThrownBy(() -> LpmEntry.lookupKeyData(1, Prefix.AF_INET, new byte[4]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void entriesAreValues() {
        byte[] data = new byte[20];
        LpmEntry e = new LpmEntry(16, data, 1);
        data[0] = 1;
        e.data()[1] = 1;
        assertThat(e).isEqualTo(new LpmEntry(16, new byte[20], 1)).hasSameHashCodeAs(new LpmEntry(16, new byte[20], 1));
        assertThat(e.toString()).contains("prefixLen=16", "endpointId=1", "00".repeat(20));
        assertThatThrownBy(() -> new LpmEntry(15, new byte[20], 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LpmEntry(16, new byte[24], 1)).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * The matcher must answer as a longest-prefix lookup over {@link EndpointConfig#lpmEntries()}
     * would: a brute-force trie over the encoded bytes, on random tuples biased towards the rules.
     */
    @Test
    void matcherAgreesWithALongestPrefixLookupOverTheEncodedEntries() {
        var config = EndpointConfig.of(List.of(
                new Endpoint(1, "any", BusType.KAFKA, List.of(9092, 6379), List.of()),
                new Endpoint(2, "lan", BusType.KAFKA, List.of(9092), List.of(Prefix.parse("10.0.0.0/8"),
                        Prefix.parse("fd00::/8"))),
                new Endpoint(3, "rack", BusType.KAFKA, List.of(9092, 4222), List.of(Prefix.parse("10.1.0.0/16"),
                        Prefix.parse("fd00:1::/32"), Prefix.parse("10.1.2.3"))),
                new Endpoint(4, "all4", BusType.AMQP, List.of(5672, 6379), List.of(Prefix.parse("0.0.0.0/0"))),
                new Endpoint(5, "v6", BusType.NATS, List.of(4222), List.of(Prefix.parse("::/0")))));
        List<LpmEntry> entries = config.lpmEntries();
        EndpointMatcher matcher = new EndpointMatcher(config);
        int[] ports = {9092, 6379, 4222, 5672, 80};
        byte[][] v4 = {{10, 1, 2, 3}, {10, 1, 9, 9}, {10, 9, 9, 9}, {11, 0, 0, 1}, {(byte) 192, (byte) 168, 0, 1}};
        byte[][] v6 = {HEX.parseHex("fd000001000000000000000000000001"), HEX.parseHex("fd000002000000000000000000000001"),
                HEX.parseHex("fd100000000000000000000000000001"), HEX.parseHex("20010db8000000000000000000000001")};
        Random random = new Random(42);
        for (int i = 0; i < 5000; i++) {
            int port = random.nextInt(6) == 0 ? random.nextInt(1, 65536) : ports[random.nextInt(ports.length)];
            boolean ipv6 = random.nextBoolean();
            int family = ipv6 ? Prefix.AF_INET6 : Prefix.AF_INET;
            byte[] addr = new byte[16];
            byte[] base = ipv6 ? v6[random.nextInt(v6.length)] : v4[random.nextInt(v4.length)];
            System.arraycopy(base, 0, addr, 0, base.length);
            byte[] key = LpmEntry.lookupKeyData(port, family, addr);
            int expected = entries.stream().filter(e -> e.matches(key))
                    .max((a, b) -> Integer.compare(a.prefixLen(), b.prefixLen()))
                    .map(LpmEntry::endpointId).orElse(0);
            assertThat(matcher.lookup(port, family, addr))
                    .as("port %d family %d addr %s", port, family, HEX.formatHex(addr))
                    .isEqualTo(expected);
        }
    }
}
