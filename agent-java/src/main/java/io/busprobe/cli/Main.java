package io.busprobe.cli;

import io.busprobe.text.Messages;

/** Entry point of the {@code busprobe} launcher. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("run")) {
            Hangups.deferDuringStartup(); // before anything slow: a SIGHUP now is a reload later
        }
        int code;
        try {
            code = BusprobeCommand.commandLine().execute(args);
        } catch (LinkageError e) {
            // a class that binds libbpf failed to initialise while the command line was built
            System.err.println(BusprobeCommand.PREFIX + Messages.oneLine(BusprobeCommand.describe(e)));
            code = BusprobeCommand.exitCode(e);
        }
        System.exit(code);
    }
}
