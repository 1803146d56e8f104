package io.busprobe.cli;

import io.busprobe.event.EventKind.Family;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Option value parsers: durations, byte sizes, probe families. Pure functions. */
final class Converters {
    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)?");
    private static final Pattern SIZE = Pattern.compile("(\\d+)([KMG])?i?B?", Pattern.CASE_INSENSITIVE);

    private Converters() {
    }

    /** {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}; a bare number is seconds. */
    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            Matcher m = DURATION.matcher(value.trim());
            if (!m.matches()) {
                throw new TypeConversionException("'" + value + "' is not a duration; use e.g. 500ms, 30s, 2m, 1h");
            }
            try {
                long n = Long.parseLong(m.group(1));
                String unit = m.group(2) == null ? "s" : m.group(2);
                return switch (unit) {
                    case "ms" -> Duration.ofMillis(n);
                    case "m" -> Duration.ofMinutes(n);
                    case "h" -> Duration.ofHours(n);
                    default -> Duration.ofSeconds(n);
                };
            } catch (NumberFormatException | ArithmeticException e) {
                throw new TypeConversionException("duration '" + value + "' is too long");
            }
        }
    }

    /** {@code 4096}, {@code 256K}, {@code 8M}, {@code 1G}: a power of two between 4K and 1G. */
    static final class RingSizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.trim());
            if (!m.matches()) {
                throw new TypeConversionException("'" + value + "' is not a size; use e.g. 256K, 8M");
            }
            long n;
            try {
                n = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                throw new TypeConversionException("ring size " + value + " is too large; at most 1G");
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
                throw new TypeConversionException("ring size " + value
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
                String p = part.trim().toLowerCase(Locale.ROOT);
                if (p.equals("all")) {
                    out.addAll(EnumSet.allOf(Family.class));
                    continue;
                }
                Family f = null;
                for (Family c : Family.values()) {
                    if (c.label().equals(p)) {
                        f = c;
                    }
                }
                if (f == null) {
                    throw new TypeConversionException("unknown kind '" + part.trim()
                            + "'; choose from retransmit, state, reset, pressure, all");
                }
                out.add(f);
            }
            if (out.isEmpty()) {
                throw new TypeConversionException("no kinds selected; choose from retransmit, state, reset, pressure, all");
            }
            return out;
        }
    }
}
