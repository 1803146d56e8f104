package io.busprobe.endpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** The {@code admin} key of a kafka endpoint: where busprobe asks the names of topic IDs. */
class KafkaAdminConfigTest {
    @TempDir
    Path dir;

    private Path write(String yaml) throws IOException {
        return Files.writeString(dir.resolve("endpoints.yaml"), yaml);
    }

    @Test
    void loadsBootstrapAsOneValueOrAListAndPropertiesRelativeToTheFile() throws IOException {
        Files.writeString(dir.resolve("admin.properties"), "security.protocol=SASL_SSL\n");
        EndpointConfig c = EndpointConfig.load(write("""
                endpoints:
                  - name: orders-kafka
                    bus: kafka
                    ports: [9092]
                    admin:
                      bootstrap: "kafka-1:9092,kafka-2:9092"
                      properties: admin.properties
                  - name: audit-kafka
                    bus: kafka
                    ports: [9093]
                    admin: {bootstrap: ["10.0.0.7:9093", "[fd00::7]:9093"]}
                  - name: stock-redis
                    bus: redis
                    ports: [6379]
                """));
        assertThat(c.endpoints().get(0).admin()).isEqualTo(new KafkaAdmin(List.of("kafka-1:9092", "kafka-2:9092"),
                dir.resolve("admin.properties")));
        assertThat(c.endpoints().get(0).admin().bootstrapServers()).isEqualTo("kafka-1:9092,kafka-2:9092");
        assertThat(c.endpoints().get(1).admin()).isEqualTo(new KafkaAdmin(List.of("10.0.0.7:9093", "[fd00::7]:9093"),
                null));
        assertThat(c.endpoints().get(2).admin()).isNull();
    }

    @Test
    void theFiveArgumentEndpointHasNoAdmin() {
        assertThat(new Endpoint(1, "k", BusType.KAFKA, List.of(9092), List.of()).admin()).isNull();
        assertThatThrownBy(() -> new Endpoint(1, "r", BusType.REDIS, List.of(6379), List.of(),
                new KafkaAdmin(List.of("r:6379"), null)))
                .hasMessage("'admin' is for kafka endpoints (it asks the broker for topic names); 'r' is redis");
    }

    static Stream<Arguments> invalidFiles() {
        String head = """
                endpoints:
                  - name: orders
                    bus: %s
                    ports: [9092]
                """;
        return Stream.of(
                arguments("admin on a redis endpoint", head.formatted("redis") + "    admin: {bootstrap: \"r:6379\"}\n",
                        "5: 'admin' is for kafka endpoints (it asks the broker for topic names); 'orders' is redis"),
                arguments("admin not a mapping", head.formatted("kafka") + "    admin: kafka-1:9092\n",
                        "5: 'admin' must be a mapping with bootstrap (and optionally properties), e.g. admin: "
                                + "{bootstrap: \"kafka-1:9092\"}, found 'kafka-1:9092'"),
                arguments("admin empty", head.formatted("kafka") + "    admin:\n",
                        "5: 'admin' has no value"),
                arguments("no bootstrap", head.formatted("kafka") + "    admin: {properties: a.properties}\n",
                        "5: 'admin' has no bootstrap; add bootstrap: HOST:PORT of a broker"),
                arguments("misspelt key", head.formatted("kafka") + "    admin:\n      bootstrap_servers: \"k:9092\"\n",
                        "6: unknown key 'bootstrap_servers'; the keys here are bootstrap, properties"),
                arguments("near miss", head.formatted("kafka") + "    admin:\n      bootstrp: \"k:9092\"\n",
                        "6: unknown key 'bootstrp'; did you mean 'bootstrap'?"),
                arguments("no port", head.formatted("kafka") + "    admin:\n      bootstrap: kafka-1\n",
                        "6: bad bootstrap server 'kafka-1'; give HOST:PORT, e.g. kafka-1:9092 or \"[fd00::1]:9092\""),
                arguments("port out of range", head.formatted("kafka") + "    admin:\n      bootstrap: [\"k:9092\", \"k:70000\"]\n",
                        "6: bad bootstrap server 'k:70000'"),
                arguments("empty list", head.formatted("kafka") + "    admin:\n      bootstrap: []\n",
                        "6: 'bootstrap' is empty; list at least one"),
                arguments("missing properties", head.formatted("kafka") + "    admin:\n      bootstrap: \"k:9092\"\n"
                        + "      properties: nowhere.properties\n", "7: admin properties "));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidFiles")
    void rejectsWithOneLineNamingFileAndLine(String what, String yaml, String expected) throws IOException {
        Path file = write(yaml);
        assertThatThrownBy(() -> EndpointConfig.load(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(file + ":" + expected)
                .message().doesNotContain("\n");
    }

    @Test
    void missingPropertiesFileSaysWhereRelativePathsStart() throws IOException {
        Path file = write("""
                endpoints:
                  - name: orders
                    bus: kafka
                    ports: [9092]
                    admin: {bootstrap: "k:9092", properties: nowhere.properties}
                """);
        assertThatThrownBy(() -> EndpointConfig.load(file)).hasMessage(file + ":5: admin properties "
                + dir.resolve("nowhere.properties") + " does not exist; give a kafka-clients properties file "
                + "(paths are relative to " + dir + ")");
    }
}
