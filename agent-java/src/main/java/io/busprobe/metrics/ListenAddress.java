package io.busprobe.metrics;

import java.net.Inet6Address;
import java.util.regex.Pattern;

import static io.busprobe.text.Messages.quoted;

/**
 * {@code HOST:PORT} of {@code --metrics-address}: {@code 0.0.0.0:19477},
 * {@code 127.0.0.1:19477}, {@code [::1]:19477}, or {@code :19477} for every
 * interface. Port 0 asks the kernel for a free port (tests).
 *
 * <p>{@link #parse} is strict so that the command line can reject a bad address while parsing,
 * before the kernel is touched: the host is an IPv4 address, a host name or an IPv6 address in
 * brackets, and the port is 0..65535 in plain digits. Names are not resolved here.
 *
 * {@snippet :
 * ListenAddress a = ListenAddress.parse("[::1]:19477"); // host "::1", port 19477
 * }
 */
public record ListenAddress(String host, int port) {
    private static final String FIX =
            "; give --metrics-address as HOST:PORT, e.g. 0.0.0.0:19477, [::1]:19477 or :19477";
    // RFC 1123 labels; an all-numeric name must be an IPv4 address, checked separately
    private static final String LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    private static final Pattern HOST_NAME = Pattern.compile("(?=.{1,253}$)" + LABEL + "(?:\\." + LABEL + ")*");
    private static final Pattern IPV4 = Pattern.compile("(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}"
            + "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])");
    private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");

    /**
     * @throws IllegalArgumentException one line naming what is wrong and how to write it
     */
    public static ListenAddress parse(String hostPort) {
        String text = hostPort == null ? "" : hostPort;
        int colon = text.lastIndexOf(':');
        if (colon < 0 || text.startsWith("[") && text.indexOf(']') > colon) {
            throw new IllegalArgumentException(quoted(text) + " has no port" + FIX);
        }
        String host = text.substring(0, colon);
        String port = text.substring(colon + 1);
        if (host.startsWith("[")) {
            if (!host.endsWith("]") || !isIpv6(host.substring(1, host.length() - 1))) {
                throw new IllegalArgumentException(quoted(host) + " is not an IPv6 address in brackets" + FIX);
            }
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException(quoted(text) + ": write an IPv6 host in brackets, e.g. --metrics-address "
                    + "[::1]:19477");
        } else if (!host.isEmpty() && !(IPV4.matcher(host).matches()
                || HOST_NAME.matcher(host).matches() && !host.matches("[0-9.]+"))) {
            throw new IllegalArgumentException(quoted(host) + " is not an IP address or host name" + FIX);
        }
        if (!PORT.matcher(port).matches() || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, not " + quoted(port) + " in " + quoted(text)
                    + FIX);
        }
        return new ListenAddress(host.isEmpty() ? "0.0.0.0" : host, Integer.parseInt(port));
    }

    private static boolean isIpv6(String s) {
        try {
            Inet6Address.ofLiteral(s);
            return s.contains(":");
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
