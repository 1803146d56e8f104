package io.busprobe.cli;

import io.busprobe.agent.Session;
import picocli.CommandLine.Option;

/** Options shared by every command that loads the BPF programs. */
final class KernelOptions {
    @Option(names = "--ring-size", paramLabel = "SIZE", defaultValue = "8M",
            converter = Converters.RingSizeConverter.class,
            description = "Ring buffer size, a power of two (default: ${DEFAULT-VALUE}). "
                    + "Larger absorbs longer bursts without drops.")
    long ringSize;

    int pollMs;

    @picocli.CommandLine.Spec(picocli.CommandLine.Spec.Target.MIXEE)
    picocli.CommandLine.Model.CommandSpec mixee;

    @Option(names = "--poll-interval", paramLabel = "MS", defaultValue = "" + Session.DEFAULT_POLL_MS,
            converter = Converters.PollIntervalConverter.class,
            description = "Longest wait for new records in milliseconds, 1-1000 (default: ${DEFAULT-VALUE}); "
                    + "bounds delivery latency, since the kernel wakes the reader on the first record after it emptied "
                    + "the ring and then only past a fill watermark.")
    void pollMs(int ms) {
        if (ms < 1 || ms > 1000) {
            throw new picocli.CommandLine.ParameterException(mixee.commandLine(),
                    "--poll-interval must be between 1 and 1000 ms, got " + ms);
        }
        pollMs = ms;
    }
}
