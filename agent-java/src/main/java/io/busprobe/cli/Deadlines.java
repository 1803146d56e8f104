package io.busprobe.cli;

import java.time.Duration;

/** System.nanoTime() deadlines that saturate instead of overflowing. */
final class Deadlines {
    private Deadlines() {
    }

    /** {@code start + d} in nanoseconds, or Long.MAX_VALUE for no duration or one too long to add. */
    static long after(long startNanos, Duration d) {
        if (d == null) {
            return Long.MAX_VALUE;
        }
        try {
            return Math.addExact(startNanos, d.toNanos());
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }
}
