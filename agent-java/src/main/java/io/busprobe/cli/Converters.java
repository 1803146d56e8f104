package io.busprobe.cli;

import io.busprobe.bpf.Probe;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.SampleSetting;
import io.busprobe.maps.SocketTable;
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
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");
    /**
     * Longest duration: every user adds one to {@code System.nanoTime()}, and 100 years leaves
     * plenty of headroom below 2^63 ns (292 years), where {@code toNanos} would throw.
     */
    static final Duration MAX_DURATION = Duration.ofDays(36_500);
    /** Longest window of {@code endpoints} and {@code top}: the counters are read twice, a day apart at most. */
    static final Duration MAX_WINDOW = Duration.ofHours(24);
    private static final Pattern SIZE = Pattern.compile("(\\d+)([KMG])?i?B?", Pattern.CASE_INSENSITIVE);

    private Converters() {
    }

    /**
     * {@code 500ms}, {@code 2.5s}, {@code 30s}, {@code 2m}, {@code 1h}; a bare number is seconds. Each
     * duration option has its own range (README, "Durations"); this one is 0 to 100 years.
     */
    static class DurationConverter implements ITypeConverter<Duration> {
        private final Duration min;
        private final Duration max;

        DurationConverter() {
            this(Duration.ZERO, MAX_DURATION);
        }

        DurationConverter(Duration min, Duration max) {
            this.min = min;
            this.max = max;
        }

        @Override
        public Duration convert(String value) {
            Matcher m = DURATION.matcher(value.trim());
            if (!m.matches()) {
                throw new TypeConversionException(shown(value) + " is not a duration; use e.g. 500ms, 2.5s, 30s, 2m, 1h");
            }
            long unitNanos = switch (m.group(2) == null ? "s" : m.group(2)) {
                case "ms" -> 1_000_000L;
                case "m" -> 60_000_000_000L;
                case "h" -> 3_600_000_000_000L;
                default -> 1_000_000_000L;
            };
            java.math.BigInteger nanos = new java.math.BigDecimal(m.group(1))
                    .multiply(java.math.BigDecimal.valueOf(unitNanos)).toBigInteger();
            if (nanos.compareTo(java.math.BigInteger.valueOf(max.toNanos())) > 0) {
                throw new TypeConversionException(max.equals(MAX_DURATION)
                        ? shown(value) + " is too long; at most " + MAX_DURATION.toHours() + "h (100 years)"
                        : shown(value) + " is too long; at most " + label(max));
            }
            Duration d = Duration.ofNanos(nanos.longValueExact());
            if (d.compareTo(min) < 0) {
                throw new TypeConversionException(shown(value) + " is too short; at least " + label(min));
            }
            return d;
        }

        /** {@code 100ms}, {@code 1s}, {@code 24h}: as a user would write it. */
        static String label(Duration d) {
            if (d.toMillis() < 1000 || d.toMillis() % 1000 != 0) {
                return d.toMillis() + "ms";
            }
            long s = d.toSeconds();
            return s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
        }
    }

    /** {@code run --summary-interval}: 1s to 100 years; the first summary comes at 10 s at most anyway. */
    static final class SummaryIntervalConverter extends DurationConverter {
        SummaryIntervalConverter() {
            super(Duration.ofSeconds(1), MAX_DURATION);
        }
    }

    /** {@code endpoints --window}, {@code top --window}: 1ms to 24h. */
    static final class WindowConverter extends DurationConverter {
        WindowConverter() {
            super(Duration.ofMillis(1), MAX_WINDOW);
        }
    }

    /** {@code top --interval}: 100ms (a refresh costs a map walk) to 1h. */
    static final class RefreshConverter extends DurationConverter {
        RefreshConverter() {
            super(Duration.ofMillis(100), Duration.ofHours(1));
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

    /**
     * {@code run --socket-table-size}: {@code 4096}, {@code 64K}, {@code 1M}: entries, K and M in
     * powers of 1024, between {@link SocketTable#MIN_SIZE} and {@link SocketTable#MAX_SIZE}.
     */
    static final class SocketTableSizeConverter implements ITypeConverter<Integer> {
        private static final Pattern COUNT = Pattern.compile("(\\d{1,10})([KM])?", Pattern.CASE_INSENSITIVE);

        @Override
        public Integer convert(String value) {
            String t = value.trim();
            Matcher m = COUNT.matcher(t);
            long n = -1;
            if (m.matches()) {
                n = Long.parseLong(m.group(1));
                if (m.group(2) != null) {
                    n <<= m.group(2).equalsIgnoreCase("K") ? 10 : 20;
                }
            }
            if (n < SocketTable.MIN_SIZE || n > SocketTable.MAX_SIZE) {
                throw new TypeConversionException((m.matches() ? t : shown(value) + " is not a count; it")
                        + " must be between 64 and 16M entries (e.g. 64K, 1M)");
            }
            return (int) n;
        }
    }

    /**
     * {@code sample --watermark}: {@code 65536}, {@code 64K}, {@code 1M}, between 4K and 1G (the
     * ring's range), or {@code auto}: 1/8 of the ring in use, recomputed by every daemon.
     */
    static final class WatermarkConverter implements ITypeConverter<Long> {
        /** What {@code auto} converts to. */
        static final long AUTO = -1;

        @Override
        public Long convert(String value) {
            String t = value.trim();
            if (t.equalsIgnoreCase("auto")) {
                return AUTO;
            }
            Matcher m = SIZE.matcher(t);
            if (!m.matches() || m.group(1).length() > 10) {
                throw new TypeConversionException(shown(value) + " is not a size; use e.g. 64K, 1M, or auto (1/8 of the ring)");
            }
            long n = Long.parseLong(m.group(1));
            if (m.group(2) != null) {
                n <<= switch (m.group(2).toUpperCase(Locale.ROOT)) {
                    case "K" -> 10;
                    case "M" -> 20;
                    default -> 30;
                };
            }
            if (n < 4096 || n > (1L << 30)) {
                throw new TypeConversionException("watermark " + t + " must be between 4K and 1G (4096 to 1073741824 "
                        + "bytes), or auto");
            }
            return n;
        }
    }

    /**
     * {@code sample --rate}: {@code 500} or {@code 500/s}, 1 to {@link SampleSetting#MAX_RATE}, or
     * {@code unlimited} (0 in the map). 0 is not a spelling of unlimited: it reads as "none".
     */
    static final class RateConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            String t = value.trim().toLowerCase(Locale.ROOT);
            if (t.equals("unlimited")) {
                return 0;
            }
            String n = t.endsWith("/s") ? t.substring(0, t.length() - 2) : t;
            if (!n.matches("-?[0-9]{1,18}")) {
                throw new TypeConversionException(shown(value) + " is not a rate; use e.g. 500, 500/s or unlimited");
            }
            long r = Long.parseLong(n);
            if (r < 1 || r > SampleSetting.MAX_RATE) {
                throw new TypeConversionException("must be between 1 and " + SampleSetting.MAX_RATE
                        + " records/s, got " + value.trim() + (r == 0 ? "; 'unlimited' removes the limit, --off sends "
                        + "no records" : "; or 'unlimited'"));
            }
            return (int) r;
        }
    }

    /** Comma-separated families ({@code retransmit,state,reset,pressure}) or {@code all}. */
    static final class FamiliesConverter implements ITypeConverter<Set<Family>> {
        @Override
        public Set<Family> convert(String value) {
            Set<Family> out = EnumSet.noneOf(Family.class);
            for (String part : value.split(",")) {
                Set<Family> named = Family.named(part);
                if (named.isEmpty() && part.trim().toLowerCase(Locale.ROOT).startsWith(EventKind.KIND_PREFIX)) {
                    throw new TypeConversionException(shown(part.trim()) + " is one kind; trace loads whole "
                            + "families: choose from retransmit, state, reset, pressure, drop, all");
                }
                if (named.isEmpty()) {
                    throw new TypeConversionException("unknown kind " + shown(part.trim())
                            + "; choose from retransmit, state, reset, pressure, drop, all");
                }
                out.addAll(named);
            }
            if (out.isEmpty()) {
                throw new TypeConversionException("no kinds selected; choose from retransmit, state, reset, pressure, drop, all");
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

    /** {@code run --topic-top}, {@code endpoints --topic-top}: topics shown per endpoint, 0 to 1000. */
    static final class TopicTopConverter extends IntRangeConverter {
        TopicTopConverter() {
            super(0, 1000, " topics");
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

    /** Completion of {@code trace --kinds}: the family names as the docs write them, and {@code all}. */
    static final class FamilyCandidates implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            java.util.List<String> names = new java.util.ArrayList<>();
            for (Family f : Family.values()) {
                names.add(f.label());
            }
            names.add("all");
            return names.iterator();
        }
    }

    /** Completion of {@code sample --kind}: {@link EventKind#names()}. */
    static final class KindCandidates implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return EventKind.names().iterator();
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
