package io.busprobe.text;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** What reaches a terminal: every character it would not simply print is escaped, the rest kept. */
class MessagesTest {
    @Test
    void escapesWhatATerminalWouldNotPrint() {
        Map<String, String> cases = Map.of(
                "a\u001b[2Jb", "a\\u001b[2Jb", // ESC, the start of every terminal escape sequence
                "x\u009b31m", "x\\u009b31m", // C1 CSI: an escape sequence in one character
                "bel\u0007", "bel\\u0007",
                "a\nb\tc\r", "a\\nb\\tc\\r", // line breaks and tabs as written in source
                "evil\u202egnp.exe", "evil\\u202egnp.exe", // a bidirectional override
                "zero\u200bwidth", "zero\\u200bwidth",
                "a\u2028b", "a\\u2028b",
                "a\ud83d", "a\\ud83d"); // a lone surrogate
        cases.forEach((in, out) -> assertThat(Messages.oneLine(in)).as(out).isEqualTo(out));
    }

    @Test
    void printableTextIsUntouched() {
        for (String s : new String[] {"python3", "kafka-network-t", "orders.kafka_9092", "caf\u00e9 \u65e5\u672c",
                "ok \ud83d\ude00", "/sys/fs/bpf/busprobe"}) {
            assertThat(Messages.oneLine(s)).isSameAs(s);
        }
    }
}
