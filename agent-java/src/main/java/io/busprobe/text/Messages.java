package io.busprobe.text;

/**
 * Putting what a user typed into a one-line error message. Shared by the flag converters and
 * {@code --metrics-address} parsing, which live in packages that cannot see each other.
 */
public final class Messages {
    /** Longest value quoted back: enough to recognise it, short enough for one line. */
    private static final int MAX_QUOTED = 60;

    private Messages() {
    }

    /** {@code 'value'}: control characters escaped as {@code \\uXXXX}, cut after 60 characters. */
    public static String quoted(String value) {
        String cut = value.length() > MAX_QUOTED ? value.substring(0, MAX_QUOTED) + "..." : value;
        StringBuilder sb = new StringBuilder("'");
        cut.chars().forEach(c -> sb.append(Character.isISOControl(c) ? String.format("\\u%04x", c)
                : String.valueOf((char) c)));
        return sb.append('\'').toString();
    }
}
