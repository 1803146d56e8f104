package io.busprobe.cli;

import io.busprobe.ffi.Sys;

/** What the commands need to know about the terminal they print to. */
final class Terminal {
    /** Width assumed for a terminal that does not say (a serial console, a fresh pty). */
    static final int DEFAULT_WIDTH = 120;

    private Terminal() {
    }

    /** Whether standard output is a terminal (isatty), where a screen may be redrawn in place. */
    static boolean stdoutIsTerminal() {
        return Sys.terminalColumns(1) >= 0;
    }

    /**
     * Columns a table on standard output may use: the terminal's width; for a pipe or a file,
     * {@code $COLUMNS} when set, else no limit (every column, for the script or file that reads it).
     */
    static int width() {
        int cols = Sys.terminalColumns(1);
        if (cols > 0) {
            return cols;
        }
        String env = System.getenv("COLUMNS");
        if (env != null && env.matches("[0-9]{1,4}") && Integer.parseInt(env) > 0) {
            return Integer.parseInt(env);
        }
        return cols == 0 ? DEFAULT_WIDTH : Integer.MAX_VALUE;
    }
}
