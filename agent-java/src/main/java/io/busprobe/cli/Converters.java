package io.busprobe.cli;

import io.busprobe.bpf.Probe;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.SampleSetting;
import io.busprobe.metrics.ListenAddress;
import io.busprobe.text.Messages;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Option value parsers: durations, byte sizes, probe families, counts, addresses, paths. Pure
 * functions. Every value is checked here, while picocli parses, so a bad one is exit 2 before any
 * command runs; picocli puts "Invalid value for option '--x' (LABEL): " before each message.
 */
final class Converters {
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)?");
    /**
     * Longest duration: every user adds one to {@code System.nanoTime()}, and 100 years leaves
     * plenty of headroom below 2^63 ns (292 years), where {@code toNanos} would throw.
     */
    static final Duration MAX_DURATION = Duration.ofDays(36_500);
    private static final Pattern SIZE = Pattern.compile("(\\d+)([KMG])?i?B?", Pattern.CASE_INSENSITIVE);

    private Converters() {
    }

    /** {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}; a bare number is seconds. */
    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            Matcher m = DURATION.matcher(value.trim());
            if (!m.matches()) {
                throw new TypeConversionException(shown(value) + " is not a duration; use e.g. 500ms, 30s, 2m, 1h");
            }
            Duration d;
            try {
                long n = Long.parseLong(m.group(1));
                String unit = m.group(2) == null ? "s" : m.group(2);
                d = switch (unit) {
                    case "ms" -> Duration.ofMillis(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofSeconds(n);
                };
            } catch (NumberFormatException | ArithmeticException e) {
                d = null;
            }
            if (d == null || d.compareTo(MAX_DURATION) > 0) {
                throw new TypeConversionException(shown(value) + " is too long; at most " + MAX_DURATION.toHours()
                        + "h (100 years)");
            }
            return d;
        }
    }

    /** {@code 4096}, {@code 256K}, {@code 8M}, {@code 1G}: a power of two between 4K and 1G. */
    static final class RingSizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.trim());
            if (!m.matches()) {
                throw new TypeConversionException(shown(value) + " is not a size; use e.g. 256K, 8M");
            }
            long n;
            try {
                n = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                throw new TypeConversionException("ring size " + value.trim() + " is too large; at most 1G");
            }
            if (m.group(2) != null) {
                int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
                    case "K" -> 10;
                    case "M" -> 20;
                    default -> 30;
                };
                // compare before shifting: a large count would overflow into a small size
                n = n > (1L << 30) >> shift ? Long.MAX_VALUE : n << shift;
            }
            if (Long.bitCount(n) != 1 || n < 4096 || n > (1L << 30)) {
                throw new TypeConversionException("ring size " + value.trim()
                        + " must be a power of two between 4K and 1G (e.g. 8M)");
            }
            return n;
        }
    }

    /** Comma-separated families ({@code retransmit,state,reset,pressure}) or {@code all}. */
    static final class FamiliesConverter implements ITypeConverter<Set<Family>> {
        @Override
        public Set<Family> convert(String value) {
            Set<Family> out = EnumSet.noneOf(Family.class);
            for (String part : value.split(",")) {
                Set<Family> named = Family.named(part);
                if (named.isEmpty()) {
                    throw new TypeConversionException("unknown kind " + shown(part.trim())
                            + "; choose from retransmit, state, reset, pressure, all");
                }
                out.addAll(named);
            }
            if (out.isEmpty()) {
                throw new TypeConversionException("no kinds selected; choose from retransmit, state, reset, pressure, all");
            }
            return out;
        }
    }

    /** A whole number in {@code [min, max]}; picocli's own int parsing would accept -5 or 0. */
    abstract static class IntRangeConverter implements ITypeConverter<Integer> {
        private final long min;
        private final long max;
        private final String unit;

        IntRangeConverter(long min, long max, String unit) {
            this.min = min;
            this.max = max;
            this.unit = unit;
        }

        @Override
        public Integer convert(String value) {
            String t = value.trim();
            if (!t.matches("-?[0-9]{1,18}")) {
                throw new TypeConversionException(shown(value) + " is not a whole number; use " + min + ".." + max
                        + unit);
            }
            long n = Long.parseLong(t);
            if (n < min || n > max) {
                throw new TypeConversionException("must be between " + min + " and " + max + unit + ", got " + t);
            }
            return (int) n;
        }
    }

    /** {@code sample --every}: 1 in N, as {@link SampleSetting} allows. */
    static final class EveryConverter extends IntRangeConverter {
        EveryConverter() {
            super(1, SampleSetting.MAX_EVERY, "");
        }
    }

    /** {@code sample --burst}: token-bucket depth, as {@link SampleSetting} allows. */
    static final class BurstConverter extends IntRangeConverter {
        BurstConverter() {
            super(1, SampleSetting.MAX_BURST, " records");
        }
    }

    /** {@code top --iterations}: at least one refresh. */
    static final class CountConverter extends IntRangeConverter {
        CountConverter() {
            super(1, Integer.MAX_VALUE, "");
        }
    }

    /** {@code --poll-interval}: a wait of 0 would spin, one over a second delays records visibly. */
    static final class PollIntervalConverter extends IntRangeConverter {
        PollIntervalConverter() {
            super(1, 1000, " ms");
        }
    }

    /**
     * {@code --metrics-address}: checked with {@link ListenAddress#parse} now, not when the server
     * starts after the programs are loaded; the option keeps the text.
     */
    static final class ListenAddressConverter implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            try {
                ListenAddress.parse(value);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
            return value;
        }
    }

    /** {@code --config}: a path; the file itself is read by the command, with its own errors. */
    static final class ConfigPathConverter implements ITypeConverter<Path> {
        @Override
        public Path convert(String value) {
            if (value.isBlank()) {
                throw new TypeConversionException(
                        "empty path; give the endpoint YAML file, e.g. /etc/busprobe/endpoints.yaml");
            }
            try {
                return Path.of(value);
            } catch (InvalidPathException e) {
                throw new TypeConversionException(shown(value) + " is not a path: " + e.getReason());
            }
        }
    }

    /** Quoted, control characters escaped, cut short: a message stays one readable line. */
    static String shown(String value) {
        return Messages.quoted(value);
    }

    /** {@code run --pretend-absent}: {@code sock_rcvqueue_full} or {@code sock:sock_rcvqueue_full}. */
    static final class ProbeConverter implements ITypeConverter<Probe> {
        @Override
        public Probe convert(String value) {
            for (Probe p : Probe.values()) {
                if (p.tracepoint().equals(value) || p.tracepoint().endsWith(":" + value)) {
                    return p;
                }
            }
            throw new TypeConversionException("no probe on tracepoint " + shown(value));
        }
    }
}
