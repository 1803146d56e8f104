package io.busprobe.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * A terminal table: every table busprobe prints goes through here, so that all are aligned the
 * same way and fit the same width. Columns are as wide as their widest cell, so a long value
 * never pushes its row out of line. When the table is wider than the terminal, columns drop out
 * in their stated order (the highest {@code dropOrder} first; 0 never drops) and the caller says
 * which ({@link Rendered#dropped}).
 *
 * {@snippet :
 * Table t = new Table(Table.left("ENDPOINT", 0), Table.right("TX/s", 2), Table.right("RETRANS", 0));
 * t.row("orders-kafka", "24.5 MB/s", "2.06%");
 * t.render(120).lines().forEach(System.out::println);
 * }
 */
public final class Table {
    /** Cells of a column sit at its left or right edge: text left, numbers right. */
    public enum Align { LEFT, RIGHT }

    /**
     * @param dropOrder 0: always shown; otherwise the column drops out before every column of a
     *                  lower order when the table does not fit
     */
    public record Column(String header, Align align, int dropOrder) {
    }

    public static Column left(String header, int dropOrder) {
        return new Column(header, Align.LEFT, dropOrder);
    }

    public static Column right(String header, int dropOrder) {
        return new Column(header, Align.RIGHT, dropOrder);
    }

    /**
     * @param lines   the header line, then one line per row, none wider than asked when the
     *                columns that never drop fit
     * @param dropped headers of the columns left out, in the order they dropped
     */
    public record Rendered(List<String> lines, List<String> dropped) {
        /** The line under a table that names the columns left out to fit {@code width}; empty when none was. */
        public java.util.Optional<String> droppedNote(int width) {
            return dropped.isEmpty() ? java.util.Optional.empty()
                    : java.util.Optional.of(fit("(" + String.join(", ", dropped) + " left out to fit " + width
                            + " columns; a wider terminal or --json shows them)", width));
        }
    }

    /** Columns are separated by one blank. */
    private static final String GAP = " ";

    private final List<Column> columns;
    private final List<String[]> rows = new ArrayList<>();

    public Table(Column... columns) {
        this.columns = List.of(columns);
    }

    /** Add a row; a cell is made one line (control characters escaped), a missing one is blank. */
    public Table row(String... cells) {
        if (cells.length > columns.size()) {
            throw new IllegalArgumentException(cells.length + " cells for " + columns.size() + " columns");
        }
        String[] r = new String[columns.size()];
        Arrays.fill(r, "");
        for (int i = 0; i < cells.length; i++) {
            r[i] = cells[i] == null ? "" : Messages.oneLine(cells[i]);
        }
        rows.add(r);
        return this;
    }

    public boolean isEmpty() {
        return rows.isEmpty();
    }

    /** The table at most {@code width} characters wide ({@link Integer#MAX_VALUE}: every column). */
    public Rendered render(int width) {
        int[] w = new int[columns.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = columns.get(i).header().length();
            for (String[] r : rows) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        boolean[] shown = new boolean[w.length];
        Arrays.fill(shown, true);
        List<String> dropped = new ArrayList<>();
        List<Integer> dropOrder = new ArrayList<>();
        for (int i = 0; i < w.length; i++) {
            if (columns.get(i).dropOrder() > 0) {
                dropOrder.add(i);
            }
        }
        // highest order first; among equals, the rightmost first
        dropOrder.sort(Comparator.comparingInt((Integer i) -> -columns.get(i).dropOrder()).thenComparing(i -> -i));
        for (int i : dropOrder) {
            if (total(w, shown) <= width) {
                break;
            }
            shown[i] = false;
            dropped.add(columns.get(i).header());
        }
        List<String> lines = new ArrayList<>();
        lines.add(line(columns.stream().map(Column::header).toArray(String[]::new), w, shown));
        for (String[] r : rows) {
            lines.add(line(r, w, shown));
        }
        return new Rendered(lines, dropped);
    }

    private static int total(int[] w, boolean[] shown) {
        int sum = 0;
        int n = 0;
        for (int i = 0; i < w.length; i++) {
            if (shown[i]) {
                sum += w[i];
                n++;
            }
        }
        return sum + Math.max(0, n - 1) * GAP.length();
    }

    private String line(String[] cells, int[] w, boolean[] shown) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cells.length; i++) {
            if (!shown[i]) {
                continue;
            }
            if (!sb.isEmpty()) {
                sb.append(GAP);
            }
            String pad = " ".repeat(w[i] - cells[i].length());
            sb.append(columns.get(i).align() == Align.RIGHT ? pad + cells[i] : cells[i] + pad);
        }
        return sb.toString().stripTrailing();
    }

    /**
     * {@code s} made one line ({@link Messages#oneLine}: every line around a table may carry a
     * process name, an endpoint name or a path), cut to {@code width} characters, the cut marked
     * with {@code ...}.
     */
    public static String fit(String line, int width) {
        String s = Messages.oneLine(line);
        if (s.length() <= width) {
            return s;
        }
        return width <= 3 ? s.substring(0, Math.max(0, width)) : s.substring(0, width - 3) + "...";
    }
}
