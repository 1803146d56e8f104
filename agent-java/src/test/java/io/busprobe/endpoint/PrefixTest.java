package io.busprobe.endpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Table-driven tests of prefix parsing, formatting and matching on the kernel's wire format. */
class PrefixTest {

    @ParameterizedTest(name = "{0} = {3}")
    @CsvSource(delimiter = '|', textBlock = """
            10.0.0.0/8         | 2  | 8   | 10.0.0.0/8
            10.1.2.3           | 2  | 32  | 10.1.2.3/32
            0.0.0.0/0          | 2  | 0   | 0.0.0.0/0
            192.168.4.0/22     | 2  | 22  | 192.168.4.0/22
            255.255.255.255/32 | 2  | 32  | 255.255.255.255/32
            fd00::/8           | 10 | 8   | fd00::/8
            ::1                | 10 | 128 | ::1/128
            ::/0               | 10 | 0   | ::/0
            2001:DB8::/32      | 10 | 32  | 2001:db8::/32
            2001:db8:0:0:1::/80| 10 | 80  | 2001:db8:0:0:1::/80
            2001:0:0:1::1      | 10 | 128 | 2001:0:0:1::1/128
            fe80::1:0:0:0:1    | 10 | 128 | fe80:0:0:1::1/128
            1:0:0:2:0:0:3:4    | 10 | 128 | 1::2:0:0:3:4/128
            ::ffff:10.0.0.0/104| 10 | 104 | ::ffff:a00:0/104
            """)
    void parses(String text, int family, int length, String cidr) {
        Prefix p = Prefix.parse(text);
        assertThat(p.family()).isEqualTo(family);
        assertThat(p.length()).isEqualTo(length);
        assertThat(p.address()).hasSize(family == Prefix.AF_INET ? 4 : 16);
        assertThat(p).hasToString(cidr);
        assertThat(Prefix.parse(cidr)).isEqualTo(p);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            10.0.0.1/8      | address '10.0.0.1/8': host bits set, did you mean 10.0.0.0/8?
            fd00::1/8       | address 'fd00::1/8': host bits set, did you mean fd00::/8?
            10.1.2.3/31     | host bits set, did you mean 10.1.2.2/31?
            10.0.0.0/33     | bad prefix length in '10.0.0.0/33'; IPv4 lengths are 0..32
            fd00::/129      | bad prefix length in 'fd00::/129'; IPv6 lengths are 0..128
            10.0.0.0/       | bad prefix length
            10.0.0.0/-1     | bad prefix length
            10.0.0.0/08     | bad prefix length
            10.0.0.0/8/8    | bad prefix length
            10.0.0.0/ 8     | bad prefix length
            10.0.0          | bad address '10.0.0'; write an IPv4 or IPv6 prefix such as 10.0.0.0/8 or fd00::/8
            10              | bad address '10'
            256.0.0.0/8     | bad address
            010.0.0.0/8     | bad address
            0x0a.0.0.0/8    | bad address
            10.0.0.0.0      | bad address
            kafka.local     | bad address
            /8              | bad address
            fd00:::/8       | bad address
            [::1]           | bad address
            fe80::1%eth0    | bad address
            1:2:3:4:5:6:7:8:9 | bad address
            " 10.0.0.0/8"   | bad address
            """)
    void rejects(String text, String message) {
        assertThatThrownBy(() -> Prefix.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void rejectsEmpty() {
        assertThatThrownBy(() -> Prefix.parse("fd00::/7")).hasMessageContaining("did you mean fc00::/7?");
        assertThatThrownBy(() -> Prefix.parse("")).hasMessageStartingWith("empty address");
        assertThatThrownBy(() -> Prefix.parse(null)).hasMessageStartingWith("empty address");
    }

    /** {@code addr} is the 16-byte wire field in hex, IPv4 in the first 4 bytes. */
    @ParameterizedTest(name = "{0} contains {1}/{2}: {3}")
    @CsvSource(delimiter = '|', textBlock = """
            10.0.0.0/8       | 2  | 0a010203000000000000000000000000 | true
            10.0.0.0/8       | 2  | 0b010203000000000000000000000000 | false
            10.0.0.0/8       | 10 | 0a010203000000000000000000000000 | false
            192.168.4.0/22   | 2  | c0a80701000000000000000000000000 | true
            192.168.4.0/22   | 2  | c0a80801000000000000000000000000 | false
            10.1.2.3         | 2  | 0a010203000000000000000000000000 | true
            10.1.2.3         | 2  | 0a010204000000000000000000000000 | false
            0.0.0.0/0        | 2  | ffffffff000000000000000000000000 | true
            0.0.0.0/0        | 10 | 00000000000000000000000000000000 | false
            fd00::/8         | 10 | fd123400000000000000000000000001 | true
            fd00::/8         | 10 | fe800000000000000000000000000001 | false
            fd00::/8         | 2  | fd000000000000000000000000000000 | false
            fc00::/7         | 10 | fd000000000000000000000000000001 | true
            ::1              | 10 | 00000000000000000000000000000001 | true
            ::1              | 10 | 00000000000000000000000000000002 | false
            ::/0             | 10 | 20010db8000000000000000000000001 | true
            2001:db8::/33    | 10 | 20010db8800000000000000000000000 | false
            2001:db8::/33    | 10 | 20010db87fffffffffffffffffffffff | true
            """)
    void contains(String prefix, int family, String addrHex, boolean expected) {
        assertThat(Prefix.parse(prefix).contains(family, HexFormat.of().parseHex(addrHex))).isEqualTo(expected);
    }

    @Test
    void containsTakesOnlyWireAddresses() {
        assertThatThrownBy(() -> Prefix.parse("10.0.0.0/8").contains(Prefix.AF_INET, new byte[] {10, 0, 0, 1}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("16 bytes");
    }

    @Test
    void equalByValueAndImmutable() {
        Prefix a = Prefix.parse("10.0.0.0/8");
        Prefix b = new Prefix(Prefix.AF_INET, new byte[] {10, 0, 0, 0}, 8);
        assertThat(a).isEqualTo(b).hasSameHashCodeAs(b);
        assertThat(a).isNotEqualTo(Prefix.parse("10.0.0.0/16")).isNotEqualTo(Prefix.parse("11.0.0.0/8"));

        byte[] raw = {10, 0, 0, 0};
        Prefix c = new Prefix(Prefix.AF_INET, raw, 8);
        raw[0] = 11;
        c.address()[0] = 12;
        assertThat(c).isEqualTo(a);
    }

    @Test
    void constructorValidates() {
        assertThatThrownBy(() -> new Prefix(7, new byte[4], 0)).hasMessageContaining("AF_INET");
        assertThatThrownBy(() -> new Prefix(Prefix.AF_INET, new byte[16], 0)).hasMessageContaining("4 bytes");
        assertThatThrownBy(() -> new Prefix(Prefix.AF_INET6, new byte[16], 129)).hasMessageContaining("0..128");
    }
}
