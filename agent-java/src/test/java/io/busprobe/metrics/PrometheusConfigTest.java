package io.busprobe.metrics;

import io.busprobe.testkit.Sh;
import org.junit.jupiter.api.Assumptions;
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
        assertThat(r.out()).contains("SUCCESS: 4 rules found");
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
    void kubernetesScrapeConfigIsValid() {
        Sh.Result r = Tools.promtool("check", "config", dir() + "/scrape-kubernetes.yml");
        // Debian builds Prometheus without the Kubernetes discovery (field unknown to its promtool)
        Assumptions.assumeFalse(r.exit() != 0 && (r.out() + r.err()).contains("field kubernetes_sd_configs not found"),
                "this promtool is built without Kubernetes service discovery (Debian's is)");
        ok(r, "promtool check config scrape-kubernetes.yml");
    }
}
