package io.busprobe.cli;

import io.busprobe.endpoint.EndpointConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --config FILE}: the bus endpoints; without it, well-known bus ports get default names. */
final class EndpointOptions {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", converter = Converters.ConfigPathConverter.class,
            description = "Bus endpoints (YAML). Default: kafka 9092, redis 6379, nats 4222, amqp 5672.")
    Path config;

    /** Parse now: a bad file is a one-line error and exit 2 before anything starts. */
    EndpointConfig load() {
        return EndpointConfig.loadOrDefaults(config);
    }
}
