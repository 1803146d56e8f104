package io.busprobe.metrics;

import io.busprobe.testutil.UnitJson;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** The dashboards under grafana/, parsed: every panel and every query of every panel. */
final class Dashboards {
    static final Path DIR = Tools.ROOT.resolve("grafana/provisioning/dashboards/busprobe");

    record Panel(String dashboard, Map<String, Object> json) {
        String title() {
            return (String) json.get("title");
        }

        String type() {
            return (String) json.get("type");
        }

        @SuppressWarnings("unchecked")
        List<String> queries() {
            List<String> q = new ArrayList<>();
            for (Object t : (List<Object>) json.getOrDefault("targets", List.of())) {
                q.add((String) ((Map<String, Object>) t).get("expr"));
            }
            return q;
        }
    }

    private Dashboards() {
    }

    static List<Path> files() {
        try (Stream<Path> s = Files.list(DIR)) {
            return s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, Object> load(Path file) {
        try {
            return UnitJson.object(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Panel> panels(Path file) {
        Map<String, Object> d = load(file);
        List<Panel> out = new ArrayList<>();
        for (Object p : (List<Object>) d.get("panels")) {
            Map<String, Object> panel = (Map<String, Object>) p;
            if (!"row".equals(panel.get("type"))) {
                out.add(new Panel((String) d.get("title"), panel));
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> variables(Path file) {
        Map<String, Object> templating = (Map<String, Object>) load(file).get("templating");
        return (List<Map<String, Object>>) (List<?>) templating.get("list");
    }

    /**
     * A panel query as Grafana would send it for one instance: template variables
     * and Grafana's interval macros replaced, {@code $endpoint} as "All" (its allValue).
     */
    static String substitute(String expr, String job, String instance, String rateInterval, String range) {
        return expr.replace("$__rate_interval", rateInterval).replace("$__range", range)
                .replace("$__interval", "15s").replace("$job", job).replace("$instance", instance)
                .replace("$endpoint", ".+");
    }
}
