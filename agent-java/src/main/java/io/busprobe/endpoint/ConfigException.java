package io.busprobe.endpoint;

import static io.busprobe.text.Messages.oneLine;

/**
 * A problem with the endpoint configuration, as one line the operator can act on:
 * {@code FILE:LINE: problem; fix}, or {@code FILE: problem} when no line applies (file missing
 * or unreadable). The CLI prints the message as is, so it never contains a newline: the
 * constructors escape control characters ({@code Messages.oneLine}), which a file name
 * or a quoted value may carry.
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
    public ConfigException(String message) {
        super(oneLine(message));
    }

    public ConfigException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }
}
