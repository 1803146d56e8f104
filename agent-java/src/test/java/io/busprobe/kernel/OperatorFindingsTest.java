package io.busprobe.kernel;

import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 15, "Misleading": each finding as the operator met it, against a real daemon in its own
 * JVM, so that each test fails on the code the issue was filed against. (Finding 5, an endpoint
 * named {@code other}, is a config error and needs no daemon:
 * EndpointConfigTest.anEndpointMayNotBeNamedOther.)
 */
@Privileged
class OperatorFindingsTest {
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-op-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws Exception {
        busprobe.removePins();
    }

    private BusprobeProcess.Daemon start(String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--metrics-address", "127.0.0.1:0",
                "--summary-interval=1h"));
        args.addAll(List.of(extra));
        return busprobe.startDaemon(args.toArray(String[]::new)).awaitStarted();
    }

    private String ok(String... args) {
        Sh.Result r = busprobe.run(args);
        assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isZero();
        return r.out();
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> kind(String name) {
        return (Map<String, Object>) ((Map<String, Object>) UnitJson.object(ok("status", "--json")).get("kinds"))
                .get(name);
    }

    /** 1: {@code --rate 0} silently lifted a rate limit; it is rejected, and the limit stays. */
    @Test
    void sampleRateZeroIsRejectedAndTheLimitStays() {
        try (BusprobeProcess.Daemon d = start()) {
            ok("sample", "--kind", "state", "--rate", "500", "--burst", "50");
            Sh.Result zero = busprobe.run("sample", "--kind", "state", "--rate", "0");
            assertThat(zero.exit()).as(zero.out() + zero.err()).isEqualTo(2);
            assertThat(zero.err().lines().findFirst().orElse("")).startsWith("busprobe: ")
                    .contains("--rate", "'unlimited' removes the limit");
            assertThat(((Number) kind("state").get("rate")).intValue()).as("the limit stays").isEqualTo(500);
            ok("sample", "--kind", "state", "--rate", "unlimited");
            assertThat(((Number) kind("state").get("rate")).intValue()).isZero();
        }
    }

    /** 2: {@code endpoints reload} exited 0 on a bad file; the error was only in the daemon's log. */
    @Test
    void endpointsReloadReportsTheDaemonsVerdictAndExits2OnABadFile(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("bus.yaml");
        Files.writeString(config, "endpoints:\n  - name: orders\n    bus: kafka\n    ports: [19092]\n");
        try (BusprobeProcess.Daemon d = start("--config", config.toString())) {
            Files.writeString(config, "endpoints:\n  - name: orders\n    bus: kafka\n    prots: [19092]\n");
            Sh.Result bad = busprobe.run("endpoints", "reload");
            assertThat(bad.exit()).as(bad.out() + bad.err()).isEqualTo(2);
            assertThat(bad.out()).isEmpty();
            assertThat(bad.err().strip()).doesNotContain("\n").contains(config + ":4: unknown key 'prots'",
                    "did you mean 'ports'?", "keeping the running config");

            Files.writeString(config, "endpoints:\n  - name: orders\n    bus: kafka\n    ports: [19092, 19093]\n");
            Sh.Result good = busprobe.run("endpoints", "reload");
            assertThat(good.exit()).as(good.err()).isZero();
            assertThat(good.out()).contains("endpoints reloaded: 1 endpoint(s), 2 rule(s) from " + config);
        }
    }

    /**
     * 3: a {@code --ring-size 4K} run left a 4096-byte watermark that the next 8 MiB daemon used, and a
     * sampling tweak outlived its incident with only "sampling config kept from the pins" said.
     */
    @Test
    void pinnedSettingsNeverComeBackSilently() {
        try (BusprobeProcess.Daemon small = start("--ring-size", "4K")) {
            assertThat(((Number) UnitJson.object(ok("status", "--json")).get("wakeup_watermark_bytes")).intValue())
                    .isEqualTo(4096);
            ok("sample", "--kind", "state", "--every", "10");
            assertThat(small.stop()).isZero();
        }
        try (BusprobeProcess.Daemon next = start()) {
            Map<String, Object> status = UnitJson.object(ok("status", "--json"));
            assertThat(((Number) status.get("wakeup_watermark_bytes")).intValue()).as("1/8 of this daemon's 8M ring")
                    .isEqualTo(1 << 20);
            assertThat(next.log()).as("the start-up line names what is not the default")
                    .containsPattern("started, .*sampling config kept from the pins, not the default: state on 1/10 "
                            + "\\(busprobe sample --reset, or run --reset-config, goes back\\)");
            assertThat(status.get("not_default")).isEqualTo(List.of("state on 1/10"));
            String table = ok("status");
            assertThat(table).containsPattern("(?m)^state +attached +on 1/10 \\* ").containsPattern(
                    "(?m)^\\* not the default");
            assertThat(table).containsPattern("(?m)^retransmit +attached +on +1/1 ");
            ok("sample", "--reset");
            assertThat(UnitJson.object(ok("status", "--json")).get("not_default")).isEqualTo(List.of());
            assertThat(ok("status")).doesNotContain("not the default");
        }
    }

    /** 4: {@code top --window 10s} said "over the last 9.0 s": one interval less than asked for. */
    @Test
    void topMeasuresOverTheWindowItWasAskedFor() {
        try (BusprobeProcess.Daemon d = start()) {
            Sh.Result top = busprobe.run("top", "--window", "2s", "--interval", "500ms", "--iterations", "6");
            assertThat(top.exit()).as(top.err()).isZero();
            List<String> titles = top.out().lines().filter(l -> l.startsWith("bus endpoints")).toList();
            assertThat(titles.subList(titles.size() - 3, titles.size())).as("once the window is full")
                    .allSatisfy(t -> assertThat(t).startsWith("bus endpoints over the last 2 s,"));
            assertThat(titles).hasSize(7);
            assertThat(titles.getFirst()).startsWith("bus endpoints: first numbers in 500ms");
            assertThat(titles.get(1)).containsPattern("over the last \\d+ms \\(the 2 s window is filling\\)");
        }
    }

    /** {@code status} stays aligned whatever the sampling text. */
    @Test
    void statusStaysAlignedWithTheLongestSamplingText() {
        try (BusprobeProcess.Daemon d = start()) {
            ok("sample", "--kind", "reset_sent", "--every", "1000000", "--rate", "10000000", "--burst", "1000000",
                    "--no-auto");
            List<String> lines = ok("status").lines().toList();
            String header = lines.stream().filter(l -> l.startsWith("KIND")).findFirst().orElseThrow();
            int seenEnd = header.indexOf("SEEN") + "SEEN".length();
            int readEnd = header.indexOf("READ") + "READ".length();
            List<String> rows = lines.subList(lines.indexOf(header) + 1,
                    lines.indexOf(header) + 1 + io.busprobe.event.EventKind.values().length);
            assertThat(rows).allSatisfy(r -> {
                assertThat(r.length()).as(r).isEqualTo(readEnd);
                assertThat(r.charAt(seenEnd - 1)).as(r).isBetween('0', '9');
                assertThat(r.charAt(seenEnd)).as(r).isEqualTo(' ');
            });
            assertThat(rows).anySatisfy(r -> assertThat(r).contains("on 1/1000000 10000000/s burst 1000000 no-auto *"));
        }
    }
}
