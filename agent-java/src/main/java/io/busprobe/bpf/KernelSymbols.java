package io.busprobe.bpf;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Kernel text addresses from /proc/kallsyms, for a program that must tell one caller of a
 * function from another by its return address (the {@code location} of skb:consume_skb).
 * Addresses read as 0 when kptr_restrict hides them: then nothing is found.
 */
final class KernelSymbols {
    private static final Path KALLSYMS = Path.of("/proc/kallsyms");

    private KernelSymbols() {
    }

    /**
     * {@code [start, end)} of a function: its address, and the lowest symbol address above it
     * (the next function, or its {@code __pfx_} padding); null when kallsyms does not name it.
     */
    static long[] extent(String function) {
        long start = 0;
        long end = -1L; // unsigned max
        try (BufferedReader in = Files.newBufferedReader(KALLSYMS)) {
            // two passes over one read would need the whole file in memory; it is sorted by address
            // on every kernel busprobe runs on, but that is not promised, so compare every line
            java.util.List<Long> addresses = new java.util.ArrayList<>(1 << 17);
            String line;
            while ((line = in.readLine()) != null) {
                int sp = line.indexOf(' ');
                if (sp <= 0) {
                    continue;
                }
                long addr = Long.parseUnsignedLong(line, 0, sp, 16);
                int nameAt = line.indexOf(' ', sp + 1) + 1;
                int nameEnd = line.indexOf('\t', nameAt);
                String name = nameEnd < 0 ? line.substring(nameAt) : line.substring(nameAt, nameEnd);
                if (name.equals(function) && line.charAt(sp + 1) != 'U') {
                    start = addr;
                }
                addresses.add(addr);
            }
            if (start == 0) {
                return null;
            }
            for (long a : addresses) {
                if (Long.compareUnsigned(a, start) > 0 && Long.compareUnsigned(a, end) < 0) {
                    end = a;
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return end == -1L ? null : new long[] {start, end};
    }
}
