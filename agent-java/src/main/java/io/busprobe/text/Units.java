package io.busprobe.text;

import java.time.Duration;
import java.util.Locale;

/**
 * Numbers as an operator reads them in a table: rates with an SI prefix and three significant
 * digits, sizes as the flags take them, durations as the flags take them. Tables only; JSON keeps
 * the exact numbers.
 *
 * {@snippet :
 * Units.bytesPerSecond(24_512_000);  // "24.5 MB/s"
 * Units.count(1234);                 // "1.2k"
 * Units.size(8 << 20);               // "8M"
 * Units.duration(Duration.ofMillis(2500)); // "2.5 s"
 * }
 */
public final class Units {
    private static final String[] SI = {"", "k", "M", "G", "T", "P", "E"};

    private Units() {
    }

    /** {@code 0}, {@code 999}, {@code 1.2k}, {@code 24.5M}, {@code 245M}: at most three significant digits. */
    public static String count(double v) {
        if (Double.isNaN(v) || v < 0) {
            return "-";
        }
        if (v < 999.5) {
            // below 10 a fraction is worth a digit: 2.5 seg/s, not 3
            return v < 9.95 && Math.abs(v - Math.rint(v)) >= 0.05 ? String.format(Locale.ROOT, "%.1f", v)
                    : String.format(Locale.ROOT, "%.0f", v);
        }
        int p = 0;
        double x = v;
        while (x >= 999.5 && p < SI.length - 1) {
            x /= 1000;
            p++;
        }
        return (x < 99.95 ? String.format(Locale.ROOT, "%.1f", x) : String.format(Locale.ROOT, "%.0f", x)) + SI[p];
    }

    /** {@code 512 B/s}, {@code 24.5 MB/s}: decimal prefixes, as network rates are given. */
    public static String bytesPerSecond(double v) {
        String c = count(v);
        char last = c.charAt(c.length() - 1);
        return Character.isLetter(last) ? c.substring(0, c.length() - 1) + " " + last + "B/s" : c + " B/s";
    }

    /** {@code 512 B}, {@code 122 kB}: decimal prefixes, as {@link #bytesPerSecond} gives rates. */
    public static String bytes(double v) {
        String c = count(v);
        char last = c.charAt(c.length() - 1);
        return Character.isLetter(last) ? c.substring(0, c.length() - 1) + " " + last + "B" : c + " B";
    }

    /** A ratio as a percentage with two decimals; a ratio too small to show is {@code <0.01%}, not 0. */
    public static String percent(double ratio) {
        if (ratio > 0 && ratio < 0.00005) {
            return "<0.01%";
        }
        return String.format(Locale.ROOT, "%.2f%%", 100 * ratio);
    }

    /** Bytes the way {@code --ring-size} and {@code --watermark} take them: {@code 4K}, {@code 8M}, {@code 1G}, or bytes. */
    public static String size(long bytes) {
        for (String unit : new String[] {"G", "M", "K"}) {
            long m = switch (unit) {
                case "G" -> 1L << 30;
                case "M" -> 1L << 20;
                default -> 1L << 10;
            };
            if (bytes >= m && bytes % m == 0) {
                return bytes / m + unit;
            }
        }
        return Long.toString(bytes);
    }

    /**
     * A duration the way the duration flags take them, to a tenth of the largest unit:
     * {@code 500ms}, {@code 2.5 s}, {@code 10 s}, {@code 1.5 min}, {@code 2 h}.
     */
    public static String duration(Duration d) {
        return seconds(d.toNanos() / 1e9);
    }

    /** {@link #duration} of a measured number of seconds. */
    public static String seconds(double s) {
        if (s < 1) {
            return String.format(Locale.ROOT, "%.0fms", s * 1000);
        }
        if (s < 60) {
            return tenth(s) + " s";
        }
        if (s < 3600) {
            return tenth(s / 60) + " min";
        }
        return tenth(s / 3600) + " h";
    }

    /** One decimal, without a trailing {@code .0}. */
    private static String tenth(double v) {
        String t = String.format(Locale.ROOT, "%.1f", v);
        return t.endsWith(".0") ? t.substring(0, t.length() - 2) : t;
    }
}
