package io.busprobe.cli;

import io.busprobe.agent.Daemon;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.maps.NonDefaults;
import io.busprobe.maps.PinDir;
import io.busprobe.metrics.ListenAddress;
import io.busprobe.text.Units;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code busprobe run} logs once it runs: what started, where to look next, and every
 * setting that is not the default, so that nothing an earlier daemon pinned comes back unsaid.
 *
 * {@snippet :
 * started, 10/10 probes attached, ring 8M, maps pinned in /sys/fs/bpf/busprobe, sampling config kept from the pins: state on 1/10 (not the default; busprobe sample --reset goes back)
 * metrics on http://localhost:19477/metrics (every interface); endpoints from /etc/busprobe/endpoints.yaml: 3 endpoint(s), 4 rule(s)
 * look with 'busprobe status', 'busprobe endpoints', 'busprobe top'; first summary in 10 s, then every 1 min
 * }
 */
final class StartupLines {
    private StartupLines() {
    }

    static List<String> of(Daemon daemon, Daemon.Options options, Duration summaryInterval) {
        List<String> lines = new ArrayList<>();
        var session = daemon.session();
        long attached = session.probes().stream().filter(ProbeStatus::attached).count();
        List<String> changed = NonDefaults.of(session.bpf().control(), session.ring().size(), session::attached);
        String config;
        if (!daemon.configReused()) {
            config = "default sampling config";
        } else if (changed.isEmpty()) {
            config = "sampling config kept from the pins (the defaults)";
        } else {
            config = "sampling config kept from the pins, not the default: " + String.join(", ", changed)
                    + " (busprobe sample --reset, or run --reset-config, goes back)";
        }
        lines.add("started, " + attached + "/" + session.probes().size() + " probes attached, ring "
                + Units.size(session.ring().size()) + ", maps pinned in " + options.pinDir() + ", " + config);
        if (session.bpf().configMigration() != null) {
            lines.add(session.bpf().configMigration());
        }
        for (ProbeStatus p : session.probes()) {
            if (!p.attached()) {
                lines.add("probe disabled: " + p);
            }
        }
        lines.add("metrics on " + metricsUrl(options.metricsAddress(), daemon.metricsPort()) + "; "
                + endpoints(options, daemon.endpoints()));
        Duration first = Duration.ofNanos(Math.min(summaryInterval.toNanos(), Daemon.FIRST_SUMMARY_NANOS));
        lines.add("look with 'busprobe status', 'busprobe endpoints', 'busprobe top'"
                + (options.pinDir().equals(PinDir.DEFAULT) ? "" : " (with BUSPROBE_PIN_DIR=" + options.pinDir() + ")")
                + "; first summary in " + Units.duration(first) + (first.equals(summaryInterval) ? ", and as often"
                : ", then every " + Units.duration(summaryInterval)));
        return lines;
    }

    /** The URL to scrape: the port the server got (the kernel's pick for {@code :0}), a host one can curl. */
    static String metricsUrl(String address, int port) {
        String host = ListenAddress.parse(address).host();
        boolean any = host.equals("0.0.0.0") || host.equals("::");
        String shown = any ? "localhost" : host.contains(":") ? "[" + host + "]" : host;
        return "http://" + shown + ":" + port + "/metrics" + (any ? " (every interface)" : "");
    }

    private static String endpoints(Daemon.Options options, EndpointConfig running) {
        String counts = running.endpoints().size() + " endpoint(s), " + running.lpmEntries().size() + " rule(s)";
        if (options.endpointConfig() != null) {
            return "endpoints from " + options.endpointConfig() + ": " + counts;
        }
        List<String> names = new ArrayList<>();
        for (Endpoint e : running.endpoints()) {
            names.add(e.name() + " " + e.ports().stream().map(String::valueOf).reduce((a, b) -> a + "," + b).orElse(""));
        }
        return "default endpoints (" + String.join(", ", names) + "), " + counts + "; --config FILE names yours";
    }
}
