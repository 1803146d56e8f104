package io.busprobe.metrics;

import io.busprobe.cli.BusprobeCommand;
import io.busprobe.endpoint.EndpointConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * deploy/kubernetes/busprobe.yaml checked against the code it deploys: the
 * structure Kubernetes requires (apiVersion, kind, names, a selector that
 * matches), and the facts that must agree with the agent (its flags parse, the
 * metrics port is the default one and the one probed and scraped, the probe
 * paths are served, the config file is mounted and valid, the host paths BPF
 * needs are there). No cluster here, so no server-side schema: this is the
 * structural check.
 */
class DeployManifestsTest {
    private static final Path MANIFEST = Tools.ROOT.resolve("deploy/kubernetes/busprobe.yaml");
    private static List<Map<String, Object>> docs;

    @SuppressWarnings("unchecked")
    @BeforeAll
    static void load() throws IOException {
        docs = new ArrayList<>();
        for (Object o : new Load(LoadSettings.builder().build()).loadAllFromString(Files.readString(MANIFEST))) {
            if (o != null) {
                docs.add((Map<String, Object>) o);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T at(Object node, String... path) {
        Object o = node;
        for (String key : path) {
            assertThat(o).as("parent of %s in %s", key, String.join(".", path)).isInstanceOf(Map.class);
            o = ((Map<String, Object>) o).get(key);
        }
        return (T) o;
    }

    private static Map<String, Object> only(String kind) {
        List<Map<String, Object>> found = docs.stream().filter(d -> kind.equals(d.get("kind"))).toList();
        assertThat(found).as("one %s", kind).hasSize(1);
        return found.get(0);
    }

    private static Map<String, Object> container() {
        List<Map<String, Object>> containers = at(only("DaemonSet"), "spec", "template", "spec", "containers");
        assertThat(containers).hasSize(1);
        return containers.get(0);
    }

    @Test
    void everyDocumentHasTheFieldsKubernetesRequires() {
        assertThat(docs).extracting(d -> d.get("kind"))
                .contains("Namespace", "ConfigMap", "DaemonSet", "Role", "RoleBinding");
        Map<String, String> apiVersions = Map.of("Namespace", "v1", "ConfigMap", "v1", "DaemonSet", "apps/v1",
                "Role", "rbac.authorization.k8s.io/v1", "RoleBinding", "rbac.authorization.k8s.io/v1");
        String namespace = at(only("Namespace"), "metadata", "name");
        for (Map<String, Object> d : docs) {
            String kind = (String) d.get("kind");
            assertThat(d.get("apiVersion")).as(kind).isEqualTo(apiVersions.get(kind));
            assertThat((String) at(d, "metadata", "name")).as(kind + " name").matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
            if (!kind.equals("Namespace")) {
                assertThat((String) at(d, "metadata", "namespace")).as(kind + " namespace").isEqualTo(namespace);
            }
        }
    }

    @Test
    void theSelectorMatchesThePodTemplate() {
        Map<String, Object> ds = only("DaemonSet");
        Map<String, Object> selector = at(ds, "spec", "selector", "matchLabels");
        Map<String, Object> labels = at(ds, "spec", "template", "metadata", "labels");
        assertThat(labels).containsAllEntriesOf(selector);
        assertThat((String) container().get("image")).as("a pinned tag, not latest").matches(".+:[0-9][^:]*");
    }

    @Test
    void theArgumentsAreFlagsTheAgentAccepts() {
        List<String> args = at(container(), "args");
        CommandLine.ParseResult parsed = BusprobeCommand.commandLine().parseArgs(args.toArray(String[]::new));
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("run");
    }

    @Test
    void metricsPortIsTheDefaultAndTheOneProbedAndScraped() {
        Map<String, Object> c = container();
        List<String> args = at(c, "args");
        String address = args.get(args.indexOf("--metrics-address") + 1);
        int port = ListenAddress.parse(address).port();
        assertThat(port).isEqualTo(ListenAddress.parse(AgentMetrics.DEFAULT_ADDRESS).port());
        List<Map<String, Object>> ports = at(c, "ports");
        assertThat(ports).anySatisfy(p -> {
            assertThat(p.get("name")).isEqualTo("metrics");
            assertThat(p.get("containerPort")).isEqualTo(port);
        });
        Map<String, Object> annotations = at(only("DaemonSet"), "spec", "template", "metadata", "annotations");
        assertThat(annotations.get("prometheus.io/port")).isEqualTo(Integer.toString(port));
        assertThat(annotations.get("prometheus.io/path")).isEqualTo(HttpSurface.METRICS);
        for (String probe : List.of("readinessProbe", "livenessProbe")) {
            assertThat((Object) at(c, probe, "httpGet", "port")).as(probe).isEqualTo("metrics");
            assertThat((String) at(c, probe, "httpGet", "path")).as(probe).isIn(HttpSurface.PATHS);
        }
        assertThat((String) at(c, "readinessProbe", "httpGet", "path")).isEqualTo(HttpSurface.READY);
        assertThat((String) at(c, "livenessProbe", "httpGet", "path")).isEqualTo(HttpSurface.HEALTHY);
    }

    @Test
    void theConfigFileIsMountedFromTheConfigMapAndValid(@TempDir Path tmp) throws IOException {
        Map<String, Object> c = container();
        List<String> args = at(c, "args");
        Path config = Path.of(args.get(args.indexOf("--config") + 1));
        List<Map<String, Object>> mounts = at(c, "volumeMounts");
        Map<String, Object> mount = mounts.stream()
                .filter(m -> config.startsWith(Path.of((String) m.get("mountPath")))).findFirst().orElseThrow();
        List<Map<String, Object>> volumes = at(only("DaemonSet"), "spec", "template", "spec", "volumes");
        Map<String, Object> volume = volumes.stream().filter(v -> v.get("name").equals(mount.get("name")))
                .findFirst().orElseThrow();
        String configMap = at(volume, "configMap", "name");
        assertThat(configMap).isEqualTo(at(only("ConfigMap"), "metadata", "name"));
        String text = at(only("ConfigMap"), "data", config.getFileName().toString());
        assertThat(text).as("ConfigMap key " + config.getFileName()).isNotNull();
        Path file = Files.writeString(tmp.resolve("endpoints.yaml"), text);
        assertThat(EndpointConfig.load(file).endpoints()).isNotEmpty();
    }

    @Test
    void theHostPathsBpfNeedsAreMountedAndEveryMountHasAVolume() {
        Map<String, Object> spec = at(only("DaemonSet"), "spec", "template", "spec");
        List<Map<String, Object>> mounts = at(container(), "volumeMounts");
        Set<String> volumes = ((List<Map<String, Object>>) at(spec, "volumes")).stream()
                .map(v -> (String) v.get("name")).collect(Collectors.toSet());
        assertThat(mounts).allSatisfy(m -> assertThat(volumes).contains((String) m.get("name")));
        assertThat(mounts).extracting(m -> m.get("mountPath"))
                .contains("/sys/fs/bpf", "/sys/kernel/btf", "/sys/kernel/tracing", "/run/busprobe");
        assertThat(spec.get("hostPID")).as("host PIDs and /proc/PID/ns/net").isEqualTo(true);
    }

    @Test
    void privilegesAreTheCapabilitiesTheAgentNeedsAndResourcesAreBounded() {
        Map<String, Object> c = container();
        List<String> add = at(c, "securityContext", "capabilities", "add");
        assertThat(add).containsExactlyInAnyOrder("BPF", "PERFMON", "SYS_ADMIN", "SYS_PTRACE");
        assertThat((List<String>) at(c, "securityContext", "capabilities", "drop")).containsExactly("ALL");
        assertThat((String) at(c, "resources", "limits", "memory")).isNotBlank();
        assertThat((String) at(c, "resources", "requests", "memory")).isNotBlank();
        assertThat((String) at(c, "resources", "requests", "cpu")).isNotBlank();
        // the limit leaves room over the measured 126 MB RSS at 100k events/s (BENCHMARKS.md)
        assertThat(mebibytes(at(c, "resources", "limits", "memory"))).isGreaterThanOrEqualTo(192);
    }

    private static int mebibytes(String quantity) {
        assertThat(quantity).matches("\\d+(Mi|Gi)");
        int n = Integer.parseInt(quantity.replaceAll("\\D", ""));
        return quantity.endsWith("Gi") ? n * 1024 : n;
    }
}
