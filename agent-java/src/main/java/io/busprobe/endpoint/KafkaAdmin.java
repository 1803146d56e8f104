package io.busprobe.endpoint;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

import static io.busprobe.text.Messages.quoted;

/**
 * Where busprobe asks a Kafka cluster for its topics' names: Produce v13+ (kafka-clients 4.1+,
 * KIP-516) names a topic by its ID only, and the daemon turns the IDs it saw into names with an
 * Admin client's {@code describeTopics} on these brokers.
 *
 * {@snippet :
 * var admin = new KafkaAdmin(List.of("kafka-1:9092", "kafka-2:9092"), Path.of("/etc/busprobe/kafka.properties"));
 * }
 *
 * @param bootstrap  {@code bootstrap.servers}: one or more HOST:PORT ({@code [v6]:PORT} for IPv6)
 * @param properties an Admin client properties file (SASL, TLS, ...), or null; its
 *                   {@code bootstrap.servers} is overridden by {@code bootstrap}
 */
public record KafkaAdmin(List<String> bootstrap, Path properties) {
    public KafkaAdmin {
        bootstrap = List.copyOf(Objects.requireNonNull(bootstrap, "bootstrap"));
        if (bootstrap.isEmpty()) {
            throw new IllegalArgumentException("'bootstrap' is empty; give HOST:PORT of one broker or more");
        }
        bootstrap.forEach(KafkaAdmin::checkServer);
    }

    /** {@code bootstrap.servers} as Kafka takes it. */
    public String bootstrapServers() {
        return String.join(",", bootstrap);
    }

    /** @throws IllegalArgumentException unless {@code server} is HOST:PORT or [IPv6]:PORT */
    static void checkServer(String server) {
        int colon = server == null ? -1 : server.lastIndexOf(':');
        String host = colon < 0 ? "" : server.substring(0, colon);
        String port = colon < 0 ? "" : server.substring(colon + 1);
        boolean hostOk = host.startsWith("[") ? host.matches("\\[[0-9A-Fa-f:.]+]")
                : host.matches("[A-Za-z0-9_.-]+");
        if (!hostOk || !port.matches("[0-9]{1,5}") || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException("bad bootstrap server " + quoted(server)
                    + "; give HOST:PORT, e.g. kafka-1:9092 or \"[fd00::1]:9092\"");
        }
    }
}
