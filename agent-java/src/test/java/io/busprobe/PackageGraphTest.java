package io.busprobe;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The package graph of the agent, checked on the compiled classes (ArchUnit): no cycles, and no
 * package importing one above it. The table below is the graph; the README's "Code map" says the
 * same in words. A new package gets a row here, or this test fails.
 */
class PackageGraphTest {
    /**
     * Every package of {@code io.busprobe}, top to bottom, with the packages it may import. A
     * package may only import packages listed after it, so the graph reads top-down.
     */
    static final Map<String, List<String>> MAY_IMPORT = graph(
            "cli", "agent metrics sink connection bpf maps ringbuf event endpoint ffi text",
            "agent", "metrics sink connection bpf maps ringbuf event endpoint ffi text",
            "metrics", "bpf maps event endpoint ffi text bindings",
            "sink", "connection bpf maps event endpoint text",
            "connection", "event",
            "bpf", "maps event ffi bindings",
            "maps", "event endpoint ffi text bindings",
            "ringbuf", "ffi bindings",
            "event", "bindings",
            "endpoint", "text",
            "ffi", "bindings",
            "text", "",
            "bindings", "");

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("io.busprobe");
    }

    private static Map<String, List<String>> graph(String... packageThenImports) {
        Map<String, List<String>> g = new LinkedHashMap<>();
        for (int i = 0; i < packageThenImports.length; i += 2) {
            String imports = packageThenImports[i + 1];
            g.put(packageThenImports[i], imports.isEmpty() ? List.of() : List.of(imports.split(" ")));
        }
        return g;
    }

    @Test
    void everyPackageHasARowInTheGraph() {
        Set<String> found = new TreeSet<>();
        for (JavaClass c : classes) {
            String rest = c.getPackageName().substring("io.busprobe".length());
            assertThat(rest).as("%s: no classes in io.busprobe itself; give it a package", c.getName()).isNotEmpty();
            found.add(rest.substring(1).split("\\.")[0]);
        }
        assertThat(found).containsExactlyInAnyOrderElementsOf(MAY_IMPORT.keySet());
    }

    @Test
    void theGraphReadsTopDown() {
        List<String> order = new ArrayList<>(MAY_IMPORT.keySet());
        MAY_IMPORT.forEach((pkg, imports) -> {
            for (String i : imports) {
                assertThat(order.indexOf(i)).as("%s may import %s, which must come below it", pkg, i)
                        .isGreaterThan(order.indexOf(pkg));
            }
        });
    }

    @Test
    void eachPackageImportsOnlyWhatTheGraphAllows() {
        LayeredArchitecture arch = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String pkg : MAY_IMPORT.keySet()) {
            arch = arch.layer(pkg).definedBy("io.busprobe." + pkg + "..");
        }
        for (Map.Entry<String, List<String>> e : MAY_IMPORT.entrySet()) {
            arch = e.getValue().isEmpty() ? arch.whereLayer(e.getKey()).mayNotAccessAnyLayer()
                    : arch.whereLayer(e.getKey()).mayOnlyAccessLayers(e.getValue().toArray(String[]::new));
        }
        arch.check(classes);
    }

    @Test
    void noCycles() {
        slices().matching("io.busprobe.(*)..").should().beFreeOfCycles().check(classes);
    }

    /**
     * Bytecode cannot tell an import from a fully-qualified name, and a name written out in full
     * hides a dependency from whoever reads the imports: main code imports every busprobe class.
     */
    @Test
    void noBusprobeClassIsReachedThroughAFullyQualifiedName() throws IOException {
        Pattern fqn = Pattern.compile("\\bio\\.busprobe\\.[a-z]+\\.[A-Z]");
        List<String> found = new ArrayList<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                List<String> lines = Files.readAllLines(f);
                for (int n = 0; n < lines.size(); n++) {
                    String line = lines.get(n).strip();
                    if (line.startsWith("import ") || line.startsWith("package ")) {
                        continue;
                    }
                    Matcher m = fqn.matcher(line);
                    if (m.find() && line.substring(0, m.start()).chars().filter(c -> c == '"').count() % 2 == 0) {
                        found.add(f + ":" + (n + 1) + ": " + line);
                    }
                }
            }
        }
        assertThat(found).isEmpty();
    }
}
