package io.busprobe.text;

/**
 * Putting what a user typed or a file held into a one-line error message. Every message that
 * echoes input goes through here: the flag converters, {@code --metrics-address} parsing and
 * the endpoint config's errors, so a value is quoted, escaped and cut the same way everywhere.
 *
 * {@snippet :
 * Messages.quoted("5s\nrm -rf /"); // the six characters 5s\nrm inside quotes, then " -rf /"
 * }
 */
public final class Messages {
    /** Longest value quoted back: enough to recognise it, short enough for one line. */
    private static final int MAX_QUOTED = 60;

    private Messages() {
    }

    /** {@code 'value'}: cut after {@value #MAX_QUOTED} characters, then made {@link #oneLine}. */
    public static String quoted(String value) {
        String v = String.valueOf(value);
        String cut = v.length() > MAX_QUOTED ? v.substring(0, MAX_QUOTED) + "..." : v;
        return "'" + oneLine(cut) + "'";
    }

    /**
     * Escapes line breaks ({@code \n}, {@code \r}, {@code \t} as written in YAML and Java) and other
     * control characters ({@code \\uXXXX}), so that a message is always one line; null stays null.
     */
    public static String oneLine(String s) {
        if (s == null || s.chars().noneMatch(Messages::isControl)) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length() + 8);
        s.chars().forEach(c -> {
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (isControl(c)) {
                        sb.append(String.format("\\u%04x", c));
                    } else {
                        sb.append((char) c);
                    }
                }
            }
        });
        return sb.toString();
    }

    private static boolean isControl(int c) {
        return Character.isISOControl(c) || c == 0x2028 || c == 0x2029; // U+2028/9: line and paragraph separators
    }
}
