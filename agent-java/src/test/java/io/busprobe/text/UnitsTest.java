package io.busprobe.text;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class UnitsTest {
    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            0          | 0
            0.7        | 0.7
            0.9999     | 1
            2.5        | 2.5
            999        | 999
            999.6      | 1.0k
            1234       | 1.2k
            24500000   | 24.5M
            245000000  | 245M
            3000000000 | 3.0G
            """)
    void counts(double v, String shown) {
        assertThat(Units.count(v)).isEqualTo(shown);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            0        | 0 B/s
            512      | 512 B/s
            24512000 | 24.5 MB/s
            1500     | 1.5 kB/s
            """)
    void rates(double v, String shown) {
        assertThat(Units.bytesPerSecond(v)).isEqualTo(shown);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            0        | 0.00%
            0.0206   | 2.06%
            0.000001 | <0.01%
            1        | 100.00%
            """)
    void percents(double ratio, String shown) {
        assertThat(Units.percent(ratio)).isEqualTo(shown);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            4096       | 4K
            8388608    | 8M
            1073741824 | 1G
            1048577    | 1048577
            6144       | 6K
            """)
    void sizesAsTheFlagsTakeThem(long bytes, String shown) {
        assertThat(Units.size(bytes)).isEqualTo(shown);
    }

    @ParameterizedTest(name = "{0} ms = {1}")
    @CsvSource(delimiter = '|', textBlock = """
            500     | 500ms
            2500    | 2.5 s
            10000   | 10 s
            9999    | 10 s
            90000   | 1.5 min
            7200000 | 2 h
            """)
    void durations(long millis, String shown) {
        assertThat(Units.duration(Duration.ofMillis(millis))).isEqualTo(shown);
    }
}
