package io.busprobe.metrics;

import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** deploy/prometheus/ passes promtool: config, alerting rules and the rules' unit tests. */
class PrometheusConfigTest {
    private static String dir() {
        return Tools.ROOT.resolve("deploy/prometheus").toString();
    }

    private static void ok(Sh.Result r, String what) {
        assertThat(r.exit()).as(what + ":\n" + r.out() + r.err()).isZero();
    }

    @Test
    void alertingRulesPassPromtoolCheckRules() {
        Sh.Result r = Tools.promtool("check", "rules", dir() + "/rules/busprobe.rules.yml");
        ok(r, "promtool check rules");
        assertThat(r.out()).contains("SUCCESS: 7 rules found");
    }

    @Test
    void alertsFireAsTheirUnitTestsExpect() {
        ok(Tools.promtool("test", "rules", dir() + "/rules/busprobe.rules.test.yml"), "promtool test rules");
    }

    @Test
    void staticScrapeConfigIsValid() {
        ok(Tools.promtool("check", "config", dir() + "/prometheus.yml"), "promtool check config prometheus.yml");
    }

    @Test
    void kubernetesScrapeConfigIsValid() throws Exception {
        Sh.Result r = Tools.promtool("check", "config", dir() + "/scrape-kubernetes.yml");
        if (r.exit() != 0 && (r.out() + r.err()).contains("field kubernetes_sd_configs not found")) {
            // Debian builds Prometheus without Kubernetes discovery, so its promtool cannot parse that
            // stanza. Check everything else (job, relabelling, rule files) with the discovery swapped
            // for a static target, and the discovery stanza's shape by hand.
            String yaml = java.nio.file.Files.readString(java.nio.file.Path.of(dir(), "scrape-kubernetes.yml"));
            assertThat(yaml).contains("kubernetes_sd_configs:\n      - role: pod\n");
            String swapped = yaml.replaceFirst("(?s)    kubernetes_sd_configs:\n.*?(?=    relabel_configs:)",
                    "    static_configs:\n      - targets: ['127.0.0.1:19477']\n");
            assertThat(swapped).doesNotContain("kubernetes_sd_configs");
            java.nio.file.Path copy = java.nio.file.Path.of(dir(), ".scrape-kubernetes-static.yml");
            java.nio.file.Files.writeString(copy, swapped);
            try {
                r = Tools.promtool("check", "config", copy.toString());
            } finally {
                java.nio.file.Files.deleteIfExists(copy);
            }
        }
        ok(r, "promtool check config scrape-kubernetes.yml");
    }
}
