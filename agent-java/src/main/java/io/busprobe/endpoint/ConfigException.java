package io.busprobe.endpoint;

/**
 * A problem with the endpoint configuration, as one line the operator can act on:
 * {@code FILE:LINE: problem; fix}, or {@code FILE: problem} when no line applies (file missing
 * or unreadable). The CLI prints the message as is, so it never contains a newline: the
 * constructors escape control characters, which a file name or a quoted value may carry.
 *
 * {@snippet :
 * try {
 *     EndpointConfig config = EndpointConfig.load(Path.of("endpoints.yaml"));
 * } catch (ConfigException e) {
 *     System.err.println(e.getMessage()); // endpoints.yaml:7: unknown bus 'kafak'; choose kafka, ...
 * }
 * }
 */
public class ConfigException extends RuntimeException {
    // Longest value quoted back in a message: enough to recognise it, short enough for one line.
    private static final int MAX_QUOTED = 40;

    public ConfigException(String message) {
        super(oneLine(message));
    }

    public ConfigException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /**
     * {@code 'value'} for a message: control characters escaped (a file can hold a name with a
     * newline in it), cut after {@value #MAX_QUOTED} characters.
     */
    static String quote(String value) {
        String v = String.valueOf(value);
        String cut = v.length() > MAX_QUOTED ? v.substring(0, MAX_QUOTED) + "..." : v;
        return "'" + oneLine(cut) + "'";
    }

    /** Escapes line breaks and other control characters, so a message is always one line. */
    static String oneLine(String s) {
        if (s == null || s.chars().noneMatch(ConfigException::isControl)) {
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
