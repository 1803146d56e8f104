package io.busprobe.cli;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;

/** The real command line run in this JVM, with what it printed. For tests of parsing, help and bad input. */
record CliRun(int exitCode, String out, String err) {
    /** Execute; only for --help/--version and for command lines that fail before the kernel is touched. */
    static CliRun execute(String... args) {
        CommandLine cl = BusprobeCommand.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int rc = cl.execute(args);
        return new CliRun(rc, out.toString(), err.toString());
    }

    List<String> errLines() {
        return err.lines().toList();
    }

    /** stdout with line wrapping undone, for phrases picocli may break across lines. */
    String outFlat() {
        return out.replaceAll("\\s+", " ");
    }
}
