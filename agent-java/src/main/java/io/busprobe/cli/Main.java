package io.busprobe.cli;

/** Entry point of the {@code busprobe} launcher. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        int code;
        try {
            code = BusprobeCommand.commandLine().execute(args);
        } catch (LinkageError e) {
            // a class that binds libbpf failed to initialise while the command line was built
            System.err.println(BusprobeCommand.PREFIX + BusprobeCommand.describe(e));
            code = BusprobeCommand.exitCode(e);
        }
        System.exit(code);
    }
}
