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
     * Escapes line breaks ({@code \n}, {@code \r}, {@code \t} as written in YAML and Java) and every
     * other character a terminal does not simply print ({@code \\uXXXX}): C0 and C1 controls (ESC
     * starts a terminal escape sequence), format characters such as the bidirectional overrides,
     * line and paragraph separators, and lone surrogates. So a message is always one line, and a
     * process name, endpoint name or path, which anyone who can name a process or a file chooses,
     * cannot move the cursor, retitle the window or hide text. Null stays null.
     */
    public static String oneLine(String s) {
        if (s == null || s.codePoints().noneMatch(Messages::needsEscape)) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length() + 8);
        s.codePoints().forEach(c -> {
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (needsEscape(c)) {
                        sb.append(String.format("\\u%04x", c));
                    } else {
                        sb.appendCodePoint(c);
                    }
                }
            }
        });
        return sb.toString();
    }

    private static boolean needsEscape(int c) {
        if (Character.isISOControl(c)) {
            return true;
        }
        return switch (Character.getType(c)) {
            case Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR, Character.SURROGATE -> true;
            default -> false;
        };
    }
}
