package io.busprobe.cli;

import io.busprobe.event.EventKind.Family;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine.TypeConversionException;

import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Table-driven tests of the option value parsers. */
class ConvertersTest {
    private final Converters.DurationConverter duration = new Converters.DurationConverter();
    private final Converters.RingSizeConverter ringSize = new Converters.RingSizeConverter();
    private final Converters.FamiliesConverter families = new Converters.FamiliesConverter();

    // durations

    @ParameterizedTest(name = "{0} = {1} ms")
    @CsvSource(delimiter = '|', textBlock = """
            500ms   | 500
            0ms     | 0
            1ms     | 1
            30s     | 30000
            45      | 45000
            0       | 0
            2m      | 120000
            1h      | 3600000
            24h     | 86400000
            '  5s ' | 5000
            007s    | 7000
            2.5s    | 2500
            0.5     | 500
            1.5m    | 90000
            0.25h   | 900000
            1.5ms   | 1
            """)
    void durations(String text, long millis) {
        assertThat(duration.convert(text).toMillis()).isEqualTo(millis);
    }

    @Test
    void decimalsAreExactToTheNanosecond() {
        assertThat(duration.convert("1.5ms")).isEqualTo(Duration.ofNanos(1_500_000));
        assertThat(duration.convert("0.000000001s")).isEqualTo(Duration.ofNanos(1));
    }

    // each duration option's range, stated in README "Durations"

    @Test
    void windowsAndIntervalsHaveTheirOwnRanges() {
        assertThat(new Converters.WindowConverter().convert("24h")).isEqualTo(Duration.ofHours(24));
        assertThatThrownBy(() -> new Converters.WindowConverter().convert("24.5h"))
                .hasMessage("'24.5h' is too long; at most 24h");
        assertThatThrownBy(() -> new Converters.WindowConverter().convert("0.5ms"))
                .hasMessage("'0.5ms' is too short; at least 1ms");
        assertThatThrownBy(() -> new Converters.RefreshConverter().convert("99ms"))
                .hasMessage("'99ms' is too short; at least 100ms");
        assertThatThrownBy(() -> new Converters.RefreshConverter().convert("2h"))
                .hasMessage("'2h' is too long; at most 1h");
        assertThatThrownBy(() -> new Converters.SummaryIntervalConverter().convert("500ms"))
                .hasMessage("'500ms' is too short; at least 1s");
        assertThat(new Converters.SummaryIntervalConverter().convert("876000h")).isEqualTo(Converters.MAX_DURATION);
    }

    // sizes of --watermark, rates of --rate

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            4096  | 4096
            64K   | 65536
            1M    | 1048576
            1G    | 1073741824
            8KiB  | 8192
            auto  | -1
            AUTO  | -1
            """)
    void watermarks(String text, long bytes) {
        assertThat(new Converters.WatermarkConverter().convert(text)).isEqualTo(bytes);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"4095", "2G", "0", "99999999999K", "64X", "-4K", ""})
    void badWatermarks(String text) {
        assertThatThrownBy(() -> new Converters.WatermarkConverter().convert(text))
                .isInstanceOf(TypeConversionException.class);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            1          | 1
            500/s      | 500
            10000000   | 10000000
            unlimited  | 0
            Unlimited  | 0
            """)
    void rates(String text, int perSecond) {
        assertThat(new Converters.RateConverter().convert(text)).isEqualTo(perSecond);
    }

    /** Issue 15: 0 used to mean unlimited and silently lifted a limit; it is out of range like any other. */
    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"0", "0/s", "-1", "10000001", "lots", "1.5"})
    void badRates(String text) {
        assertThatThrownBy(() -> new Converters.RateConverter().convert(text))
                .isInstanceOf(TypeConversionException.class);
    }

    // completion offers names as the docs write them

    @Test
    void completionOffersDocumentedNames() {
        assertThat(new Converters.FamilyCandidates()).containsExactly("retransmit", "state", "reset", "pressure", "drop", "all");
        assertThat(new Converters.KindCandidates()).contains("retransmit", "retransmit_synack", "reset_sent",
                "exceed_buf_limit", "reset", "pressure", "kind:retransmit", "all").allMatch(n -> n.equals(n.toLowerCase()));
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"5x", "", " ", "s", "ms", "1.5.5s", ".5s", "5.s", "1,5s", "-1s", "+1s", "10S", "2M", "1H", "1 s", "1d", "1w",
            "1s2", "PT5S", "1ms500"})
    void badDurations(String text) {
        assertThatThrownBy(() -> duration.convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("'" + text + "'")
                .hasMessageContaining("not a duration")
                .hasMessageContaining("500ms");
    }

    // ring sizes

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            4096    | 4096
            8192    | 8192
            4K      | 4096
            4k      | 4096
            4KB     | 4096
            4KiB    | 4096
            4kib    | 4096
            256K    | 262144
            1M      | 1048576
            8M      | 8388608
            8MiB    | 8388608
            8mb     | 8388608
            16M     | 16777216
            1G      | 1073741824
            1g      | 1073741824
            1GiB    | 1073741824
            1024M   | 1073741824
            1048576K| 1073741824
            ' 8M '  | 8388608
            """)
    void ringSizes(String text, long bytes) {
        assertThat(ringSize.convert(text)).isEqualTo(bytes);
        assertThat(Long.bitCount(ringSize.convert(text))).isOne();
    }

    @ParameterizedTest(name = "{0} = {1} entries")
    @CsvSource(delimiter = '|', textBlock = """
            64      | 64
            1000    | 1000
            64K     | 65536
            64k     | 65536
            1M      | 1048576
            16M     | 16777216
            16777216| 16777216
            """)
    void socketTableSizes(String text, int entries) {
        assertThat(new Converters.SocketTableSizeConverter().convert(text)).isEqualTo(entries);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"0", "63", "17M", "16777217", "9999999999", "99999999999M", "abc", "", "-64", "1G", "64 K"})
    void socketTableSizesOutOfRangeOrMalformed(String text) {
        assertThatThrownBy(() -> new Converters.SocketTableSizeConverter().convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("must be between 64 and 16M entries");
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"3000", "2048", "0", "4097", "12K", "3M", "2G", "2048M", "2K", "1K"})
    void ringSizesOutOfRangeOrNotPowersOfTwo(String text) {
        assertThatThrownBy(() -> ringSize.convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("ring size " + text)
                .hasMessageContaining("power of two between 4K and 1G");
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"", "M", "lots", "-4K", "0x1000", "1.5M", "8 M", "8X", "8MM", "8Mx", "1T"})
    void malformedRingSizes(String text) {
        assertThatThrownBy(() -> ringSize.convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("'" + text + "' is not a size");
    }

    /** Main bug: {@code n <<= 30} overflows; 2^34+1 GiB wraps to exactly 1 GiB and is accepted. */
    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"17179869185G", "17592186044417M", "99999999999999999999"})
    void hugeRingSizesAreRejected(String text) {
        assertThatThrownBy(() -> ringSize.convert(text)).isInstanceOf(TypeConversionException.class);
    }

    // families

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', textBlock = """
            retransmit                      | RETRANSMIT
            state                           | STATE
            reset                           | RESET
            pressure                        | PRESSURE
            retransmit,reset                | RETRANSMIT RESET
            reset,retransmit                | RETRANSMIT RESET
            reset,reset                     | RESET
            ' Reset , STATE '               | STATE RESET
            RETRANSMIT,Pressure             | RETRANSMIT PRESSURE
            all                             | RETRANSMIT STATE RESET PRESSURE DROP
            ALL                             | RETRANSMIT STATE RESET PRESSURE DROP
            state,all                       | RETRANSMIT STATE RESET PRESSURE DROP
            retransmit,state,reset,pressure | RETRANSMIT STATE RESET PRESSURE
            drop,Reset                      | RESET DROP
            """)
    void families(String text, String expected) {
        Set<Family> want = Arrays.stream(expected.split(" ")).map(Family::valueOf)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(Family.class)));
        assertThat(families.convert(text)).isEqualTo(want);
    }

    @ParameterizedTest(name = "\"{0}\" names \"{1}\"")
    @CsvSource(delimiter = '|', textBlock = """
            bogus                  | bogus
            retransmit,bogus       | bogus
            retransmits            | retransmits
            'retransmit, Bogus '   | Bogus
            retransmit,,state      | ''
            ''                     | ''
            retransmit;state       | retransmit;state
            """)
    void unknownFamilies(String text, String named) {
        assertThatThrownBy(() -> families.convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("unknown kind '" + named + "'")
                .hasMessageContaining("retransmit, state, reset, pressure, drop, all");
    }

    @Test
    void familyLabelsAreWhatTheConverterAccepts() {
        for (Family f : Family.values()) {
            assertThat(families.convert(f.label())).containsExactly(f);
        }
    }

    /** Main bug: "," splits into no parts, giving an empty set: trace then loads BPF and traces nothing. */
    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {",", ",,", " , "})
    void emptySelectionIsRejected(String text) {
        assertThatThrownBy(() -> families.convert(text)).isInstanceOf(TypeConversionException.class);
    }

    // duration bound: every user adds the duration to System.nanoTime()

    @Test
    void durationsUpTo100Years() {
        assertThat(duration.convert("876000h")).isEqualTo(Converters.MAX_DURATION);
        assertThat(Converters.MAX_DURATION.toNanos()).isLessThan(Long.MAX_VALUE / 2);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"876001h", "52560001m", "99999999999h", "9223372036854775807s", "99999999999999999999ms"})
    void durationsBeyond100YearsAreTooLong(String text) {
        assertThatThrownBy(() -> duration.convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessage("'" + text + "' is too long; at most 876000h (100 years)");
    }

    // whole numbers in a range

    @ParameterizedTest(name = "\"{0}\" = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            1       | 1
            ' 10 '  | 10
            1000000 | 1000000
            """)
    void counts(String text, int n) {
        assertThat(new Converters.EveryConverter().convert(text)).isEqualTo(n);
        assertThat(new Converters.BurstConverter().convert(text)).isEqualTo(n);
        assertThat(new Converters.CountConverter().convert(text)).isEqualTo(n);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"0", "-5", "1000001", "99999999999999999"})
    void countsOutOfRange(String text) {
        assertThatThrownBy(() -> new Converters.EveryConverter().convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessage("must be between 1 and 1000000, got " + text);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"", "ten", "1.5", "1e3", "0x10", "+5", "999999999999999999999"})
    void countsThatAreNotNumbers(String text) {
        assertThatThrownBy(() -> new Converters.PollIntervalConverter().convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("is not a whole number; use 1..1000 ms");
    }

    // listen addresses: the good forms must still pass, as the option's default does

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"0.0.0.0:19477", "127.0.0.1:0", ":19477", "[::1]:19477", "[::]:9", "localhost:19477",
            "metrics.example.org:65535", "[fe80::1]:80"})
    void listenAddresses(String text) {
        assertThat(new Converters.ListenAddressConverter().convert(text)).isEqualTo(text);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"19477", "", ":", "host:", "host:+80", "host:-1", "host:65536", "::1:80", "[::1]", "[::1]:",
            "[1.2.3.4]:80", "[::1:80", "300.1.1.1:80", "1.2.3:80", "a b:80", "-host:80", "host_name:80"})
    void badListenAddresses(String text) {
        assertThatThrownBy(() -> new Converters.ListenAddressConverter().convert(text))
                .isInstanceOf(TypeConversionException.class)
                .hasMessageContaining("--metrics-address");
    }

    // values are quoted back on one line

    @Test
    void shownValuesAreOneLineAndShort() {
        assertThat(Converters.shown("5s\nrm -rf /")).isEqualTo("'5s\\nrm -rf /'");
        assertThat(Converters.shown("x".repeat(100))).hasSize(65).endsWith("...'");
    }
}
