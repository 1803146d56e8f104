package io.busprobe.metrics;

import io.busprobe.testkit.Sh;
import org.opentest4j.TestAbortedException;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** promtool, the repository root and plain HTTP GETs for the metrics tests. */
final class Tools {
    /** The repository root (surefire runs in agent-java/). */
    static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    private Tools() {
    }

    /**
     * A Prometheus binary ({@code promtool}, {@code prometheus}) from PATH. Missing:
     * a skip with the fix, except under CI=true where it fails ({@code make deps} installs it).
     */
    static String require(String binary) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
            Path p = Path.of(dir, binary);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        String why = binary + " not on PATH: apt-get install prometheus (make deps does)";
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(why);
        }
        throw new TestAbortedException("skipped: " + why);
    }

    /** {@code promtool check metrics} on an exposition; returns its complaints (empty when clean). */
    static String lintMetrics(String exposition) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(require("promtool"), "check", "metrics").redirectErrorStream(true).start();
        try (var out = p.getOutputStream()) {
            out.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        String complaints = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc = p.waitFor();
        return rc == 0 ? complaints.strip() : ("exit " + rc + ": " + complaints).strip();
    }

    static Sh.Result promtool(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = require("promtool");
        System.arraycopy(args, 0, cmd, 1, args.length);
        return Sh.exec(60, cmd);
    }

    record Response(int status, String contentType, String body) {
    }

    static Response get(String url, String accept) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setConnectTimeout(5000);
        c.setReadTimeout(10000);
        if (accept != null) {
            c.setRequestProperty("Accept", accept);
        }
        int status = c.getResponseCode();
        try (InputStream in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
            String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return new Response(status, c.getContentType(), body);
        } finally {
            c.disconnect();
        }
    }
}
