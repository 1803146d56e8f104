package io.busprobe.cli;

import picocli.CommandLine;

/** Entry point of the {@code busprobe} launcher. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        System.exit(BusprobeCommand.commandLine().execute(args));
    }
}
