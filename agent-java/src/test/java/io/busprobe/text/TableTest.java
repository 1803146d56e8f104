package io.busprobe.text;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The one table renderer: columns as wide as their widest cell, and columns dropping out in order. */
class TableTest {
    private static Table sample() {
        return new Table(Table.left("NAME", 0), Table.left("BUS", 3), Table.right("TX/s", 1), Table.right("RST", 2),
                Table.right("RATIO", 0))
                .row("orders-kafka", "kafka", "24.5 MB/s", "0", "2.06%")
                .row("a-much-longer-endpoint-name", "nats", "1 B/s", "1.2k", "0.00%");
    }

    @Test
    void columnsAreAsWideAsTheirWidestCellAndStayAligned() {
        List<String> lines = sample().render(Integer.MAX_VALUE).lines();
        assertThat(lines).containsExactly(
                "NAME                        BUS        TX/s  RST RATIO",
                "orders-kafka                kafka 24.5 MB/s    0 2.06%",
                "a-much-longer-endpoint-name nats      1 B/s 1.2k 0.00%");
    }

    @Test
    void columnsDropOutHighestOrderFirstUntilTheTableFits() {
        Table.Rendered r = sample().render(46);
        assertThat(r.dropped()).containsExactly("BUS", "RST");
        assertThat(r.lines()).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(46));
        assertThat(r.lines().getFirst()).isEqualTo("NAME                             TX/s RATIO");
        assertThat(sample().render(10).dropped()).as("never the columns of order 0")
                .containsExactly("BUS", "RST", "TX/s");
    }

    @Test
    void cellsAreOneLineAndLongTextIsCutVisibly() {
        List<String> lines = new Table(Table.left("WHO", 0)).row("evil\ncomm").render(80).lines();
        assertThat(lines).containsExactly("WHO", "evil\\ncomm");
        assertThat(Table.fit("abcdefghij", 8)).isEqualTo("abcde...");
        assertThat(Table.fit("abc", 8)).isEqualTo("abc");
    }
}
