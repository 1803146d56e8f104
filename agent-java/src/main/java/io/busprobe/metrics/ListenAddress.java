package io.busprobe.metrics;

/**
 * {@code HOST:PORT} of {@code --metrics-address}: {@code 0.0.0.0:19477},
 * {@code 127.0.0.1:19477}, {@code [::1]:19477}, or {@code :19477} for every
 * interface. Port 0 asks the kernel for a free port (tests).
 */
record ListenAddress(String host, int port) {
    static ListenAddress parse(String hostPort) {
        int colon = hostPort == null ? -1 : hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("--metrics-address must be HOST:PORT, e.g. 0.0.0.0:19477, not '"
                    + hostPort + "'");
        }
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException("--metrics-address: write an IPv6 host in brackets, e.g. [::1]:19477");
        }
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--metrics-address: port must be 0..65535 in '" + hostPort + "'");
        }
        return new ListenAddress(host.isEmpty() ? "0.0.0.0" : host, port);
    }

    @Override
    public String toString() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
