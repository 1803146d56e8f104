package io.busprobe.cli;

import picocli.CommandLine.Option;

/** Options shared by every command that loads the BPF programs. */
final class KernelOptions {
    @Option(names = "--ring-size", paramLabel = "SIZE", defaultValue = "8M",
            converter = Converters.RingSizeConverter.class,
            description = "Ring buffer size, a power of two (default: ${DEFAULT-VALUE}). "
                    + "Larger absorbs longer bursts without drops.")
    long ringSize;

    @Option(names = "--poll-interval", paramLabel = "MS", defaultValue = "2",
            description = "Longest wait for new records in milliseconds (default: ${DEFAULT-VALUE}); "
                    + "bounds delivery latency, since the kernel only wakes the reader past a fill watermark.")
    int pollMs;
}
