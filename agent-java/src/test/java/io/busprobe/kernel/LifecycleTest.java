package io.busprobe.kernel;

import io.busprobe.agent.DaemonLock;
import io.busprobe.maps.AgentState;
import io.busprobe.maps.ControlMaps;
import io.busprobe.testkit.BusprobeProcess;
import io.busprobe.testkit.Privileged;
import io.busprobe.testkit.Sh;
import io.busprobe.testutil.UnitJson;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The daemon as an init system and a hostile host treat it, each case in its own
 * JVM on the real kernel: signals, kill -9, a second daemon, SIGHUP, a missing
 * tracepoint, and the host faults that must be one line and exit 3 with nothing
 * loaded. What the kernel holds is read from the daemon's own fds
 * (/proc/PID/fdinfo: prog_id, link_id) and checked with bpftool afterwards.
 */
@Privileged
class LifecycleTest {
    private final BusprobeProcess busprobe = new BusprobeProcess(
            Path.of("/sys/fs/bpf/busprobe-test-life-" + ProcessHandle.current().pid()));

    @AfterEach
    void tearDown() throws IOException {
        busprobe.removePins();
    }

    private BusprobeProcess.Daemon start(String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--metrics-address", "127.0.0.1:0",
                "--summary-interval=1h"));
        args.addAll(List.of(extra));
        return busprobe.startDaemon(args.toArray(String[]::new)).awaitStarted();
    }

    /** Kernel objects a process holds, from its fdinfo: ids of programs and links. */
    private record Held(List<Long> programs, List<Long> links) {
        static Held by(long pid) throws IOException {
            List<Long> programs = new ArrayList<>();
            List<Long> links = new ArrayList<>();
            try (var fds = Files.list(Path.of("/proc/" + pid + "/fdinfo"))) {
                for (Path fd : fds.toList()) {
                    List<String> lines;
                    try {
                        lines = Files.readAllLines(fd);
                    } catch (IOException closedMeanwhile) {
                        continue;
                    }
                    boolean link = lines.stream().anyMatch(l -> l.startsWith("link_id:"));
                    for (String l : lines) {
                        if (l.startsWith("link_id:")) {
                            links.add(Long.parseLong(l.substring(8).strip()));
                        } else if (l.startsWith("prog_id:") && !link) {
                            programs.add(Long.parseLong(l.substring(8).strip()));
                        }
                    }
                }
            }
            return new Held(programs, links);
        }

        /** Ids still known to the kernel. */
        Held stillLoaded() {
            return new Held(programs.stream().filter(id -> exists("prog", id)).toList(),
                    links.stream().filter(id -> exists("link", id)).toList());
        }

        private static boolean exists(String object, long id) {
            return Sh.exec(10, "bpftool", object, "show", "id", Long.toString(id)).exit() == 0;
        }
    }

    /** The kernel frees programs after the last reference drops, asynchronously: wait a little for it. */
    private static Held awaitReleased(Held held) throws InterruptedException {
        Held left = held.stillLoaded();
        for (int i = 0; i < 50 && !(left.programs().isEmpty() && left.links().isEmpty()); i++) {
            Thread.sleep(100);
            left = held.stillLoaded();
        }
        return left;
    }

    @Test
    void sigtermDetachesEverythingAndExitsZeroWithinSeconds() throws Exception {
        BusprobeProcess.Daemon d = start();
        // the control plane is root's alone: the folder 0700, every pin 0600
        assertThat(java.nio.file.Files.getPosixFilePermissions(busprobe.pinDir()))
                .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try (var pins = Files.list(busprobe.pinDir())) {
            assertThat(pins.toList()).isNotEmpty().allSatisfy(pin -> assertThat(Files.getPosixFilePermissions(pin))
                    .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        }
        Held held = Held.by(d.pid());
        assertThat(held.programs()).as("programs the daemon holds").hasSizeGreaterThanOrEqualTo(7);
        assertThat(held.links()).as("links the daemon holds").hasSizeGreaterThanOrEqualTo(7);
        Path lock = DaemonLock.path(busprobe.pinDir());
        assertThat(DaemonLock.holder(busprobe.pinDir())).hasValue(d.pid());
        assertThat(Files.readString(lock).strip()).isEqualTo(Long.toString(d.pid()));

        long t0 = System.nanoTime();
        Sh.run("kill", "-TERM", Long.toString(d.pid()));
        // a hang guard, not a benchmark: the stop is a detach, a drain and a summary
        assertThat(d.process().waitFor(10, TimeUnit.SECONDS)).as("exits on SIGTERM").isTrue();
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("SIGTERM to exit: %.2f s%n", seconds);
        assertThat(d.process().exitValue()).as(d.log()).isZero();
        assertThat(d.log()).contains("stopping: ");
        Held left = awaitReleased(held);
        assertThat(left.programs()).as("programs left").isEmpty();
        assertThat(left.links()).as("links left").isEmpty();
        // runtime pins go with the daemon, the operator's sampling config stays for the next one
        assertThat(busprobe.pinDir().resolve("kind_stats")).doesNotExist();
        assertThat(busprobe.pinDir().resolve("sampling")).exists();
        // issue 15: lock files piled up in /run/busprobe, one per pin directory a test ever used
        assertThat(lock).as("the lock file goes with its daemon").doesNotExist();
    }

    @Test
    void kill9LeavesNoProgramOrLinkAndTheNextDaemonTakesOverThePins() throws Exception {
        BusprobeProcess.Daemon d = start();
        assertThat(busprobe.run("sample", "--kind", "state", "--every", "7").exit()).isZero();
        Held held = Held.by(d.pid());
        Sh.run("kill", "-KILL", Long.toString(d.pid()));
        assertThat(d.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(d.process().exitValue()).isEqualTo(128 + 9);

        Held left = awaitReleased(held);
        assertThat(left.programs()).as("programs left after kill -9").isEmpty();
        assertThat(left.links()).as("links left after kill -9").isEmpty();
        // only the deliberately pinned maps remain, and status can tell the daemon is gone
        assertThat(busprobe.pinDir().resolve("sampling")).exists();
        Sh.Result status = busprobe.run("status");
        assertThat(status.exit()).as(status.out() + status.err()).isNotZero();
        // issue 15: liveness is the lock, which died with the process. The killed daemon's state, its pid
        // reused by a live process and a heartbeat younger than 10 s, must not read as a daemon
        try (ControlMaps stale = ControlMaps.openPinned(busprobe.pinDir())) {
            AgentState was = stale.agentState();
            stale.agentState(new AgentState((int) ProcessHandle.current().pid(), false, System.nanoTime(),
                    was.startedNanos(), was.ringSize(), 0, was.recordsRead(), was.probesAttached(), was.reload(),
                    was.endpoints(), was.rules()));
        }
        for (List<String> command : List.of(List.of("status"), List.of("sample", "--kind", "state", "--every", "2"),
                List.of("endpoints", "--window", "100ms"), List.of("top", "--iterations", "1"))) {
            Sh.Result r = busprobe.run(command.toArray(String[]::new));
            assertThat(r.exit()).as(command + ": " + r.err()).isEqualTo(1);
            assertThat(r.err().strip()).as(command.toString()).doesNotContain("\n")
                    .startsWith("busprobe: no busprobe daemon is running on " + busprobe.pinDir())
                    .contains("the maps there were left by one that is gone", "busprobe run");
        }

        try (BusprobeProcess.Daemon next = start()) {
            assertThat(next.log()).contains("sampling config kept from the pins");
            Sh.Result json = busprobe.run("status", "--json");
            assertThat(json.exit()).as(json.err()).isZero();
            @SuppressWarnings("unchecked")
            Map<String, Object> state = (Map<String, Object>) ((Map<String, Object>) UnitJson.object(json.out())
                    .get("kinds")).get("state");
            assertThat(((Number) state.get("every")).intValue()).as("the config the killed daemon had").isEqualTo(7);
            assertThat(next.stop()).isZero();
        }
    }

    /** The BPF_ENABLE_STATS fds a process holds: the kernel names them anon_inode:bpf-stats. */
    private static long statsFds(long pid) throws IOException {
        long n = 0;
        try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    n += Files.readSymbolicLink(fd).toString().equals("anon_inode:bpf-stats") ? 1 : 0;
                } catch (IOException closedMeanwhile) {
                    // an fd closed between the listing and the read
                }
            }
        }
        return n;
    }

    /** The daemon's own scrape, from the port its start-up line names. */
    private static String scrape(BusprobeProcess.Daemon d) throws Exception {
        var m = java.util.regex.Pattern.compile("metrics on (http://\\S+/metrics)").matcher(d.log());
        assertThat(m.find()).as(d.log()).isTrue();
        var r = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create(m.group(1).replace("localhost", "127.0.0.1"))).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /**
     * Issue 11: run statistics were switched on through kernel.bpf_stats_enabled, which a
     * kill -9 left at 1, and the next daemon then took that 1 for the operator's value and
     * never put the 0 back. Now a BPF_ENABLE_STATS fd holds them, which the kernel drops
     * with the process: the sysctl never moves, before, during, after kill -9, and after
     * the next daemon's SIGTERM.
     */
    @Test
    void runStatisticsGoWithTheDaemonAndTheSysctlNeverMoves() throws Exception {
        Path sysctl = Path.of("/proc/sys/kernel/bpf_stats_enabled");
        String before = Files.readString(sysctl).strip();
        BusprobeProcess.Daemon d = start();
        assertThat(statsFds(d.pid())).as("BPF_ENABLE_STATS fds the daemon holds").isEqualTo(1);
        assertThat(Files.readString(sysctl).strip()).as("the sysctl while a daemon runs").isEqualTo(before);
        assertThat(scrape(d)).containsPattern("(?m)^busprobe_bpf_stats_enabled 1(\\.0)?$");
        Sh.run("kill", "-KILL", Long.toString(d.pid()));
        assertThat(d.process().waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(Files.readString(sysctl).strip()).as("the sysctl after kill -9").isEqualTo(before);

        try (BusprobeProcess.Daemon next = start()) {
            assertThat(statsFds(next.pid())).as("BPF_ENABLE_STATS fds the next daemon holds").isEqualTo(1);
            assertThat(scrape(next)).containsPattern("(?m)^busprobe_bpf_stats_enabled 1(\\.0)?$");
            assertThat(next.stop()).isZero();
        }
        assertThat(Files.readString(sysctl).strip()).as("the sysctl after the next daemon's SIGTERM")
                .isEqualTo(before);
    }

    @Test
    void aSecondDaemonOnTheSamePinsIsRefusedAndTheFirstRunsOn() throws Exception {
        try (BusprobeProcess.Daemon first = start()) {
            Sh.Result second = busprobe.run("run", "--metrics-address", "127.0.0.1:0", "--duration", "5s");
            assertThat(second.exit()).isEqualTo(1);
            assertThat(second.err().strip()).doesNotContain("\n")
                    .startsWith("busprobe: another busprobe daemon (pid " + first.pid() + ") is running on "
                            + busprobe.pinDir())
                    .contains("kill " + first.pid());
            assertThat(first.process().isAlive()).isTrue();
            assertThat(busprobe.run("status").exit()).isZero();
            assertThat(first.stop()).isZero();
        }
    }

    @Test
    void sighupReloadsTheEndpointConfigAndRelabelsNewConnections(@TempDir Path tmp) throws Exception {
        Path config = tmp.resolve("bus.yaml");
        Files.writeString(config, "endpoints:\n  - name: before-hup\n    bus: redis\n    ports: [14380]\n");
        try (BusprobeProcess.Daemon d = start("--config", config.toString())) {
            assertThat(endpointNames()).contains("before-hup");
            // the daemon also re-reads a file that changed (once a second): let that happen first,
            // so that the reload counted below can only be the signal's
            Files.writeString(config, "endpoints:\n  - name: after-hup\n    bus: kafka\n    ports: [14380]\n");
            awaitReloads(d, 1);
            Sh.run("kill", "-HUP", Long.toString(d.pid()));
            awaitReloads(d, 2);
            assertThat(d.log()).contains("endpoints reloaded: 1 endpoint(s), 1 rule(s) from " + config);
            assertThat(d.process().isAlive()).as("SIGHUP does not end the daemon").isTrue();
            // a connection to the port now counts under the new name
            try (ServerSocket server = new ServerSocket(14380, 8, InetAddress.getLoopbackAddress());
                 var client = new java.net.Socket(InetAddress.getLoopbackAddress(), 14380);
                 var accepted = server.accept()) {
                client.getOutputStream().write(new byte[1000]);
            }
            Sh.Result ep = busprobe.run("endpoints", "--json", "--all", "--window", "300ms");
            assertThat(ep.exit()).as(ep.err()).isZero();
            assertThat(ep.out()).contains("\"after-hup\"").doesNotContain("before-hup");
            assertThat(d.stop()).isZero();
        }
    }

    @Test
    void aConfigMapStyleSwapOfTheConfigIsReloadedWithoutASignal(@TempDir Path tmp) throws Exception {
        // the layout kubelet writes: endpoints.yaml -> ..data/endpoints.yaml, ..data -> a versioned folder,
        // and an update swaps ..data atomically
        Path v1 = Files.createDirectory(tmp.resolve("..v1"));
        Path v2 = Files.createDirectory(tmp.resolve("..v2"));
        Files.writeString(v1.resolve("endpoints.yaml"), "endpoints:\n  - name: first-map\n    bus: nats\n    ports: [14381]\n");
        Files.writeString(v2.resolve("endpoints.yaml"), "endpoints:\n  - name: second-map\n    bus: nats\n    ports: [14381]\n");
        Files.createSymbolicLink(tmp.resolve("..data"), v1.getFileName());
        Path config = Files.createSymbolicLink(tmp.resolve("endpoints.yaml"), Path.of("..data/endpoints.yaml"));
        try (BusprobeProcess.Daemon d = start("--config", config.toString())) {
            assertThat(endpointNames()).contains("first-map");
            Path next = Files.createSymbolicLink(tmp.resolve("..data_tmp"), v2.getFileName());
            Files.move(next, tmp.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            for (int i = 0; i < 50 && !d.log().contains("endpoints reloaded"); i++) {
                Thread.sleep(100);
            }
            assertThat(d.log()).contains("endpoint config " + config + " changed", "endpoints reloaded: 1 endpoint(s)");
            assertThat(endpointNames()).contains("second-map").doesNotContain("first-map");
            assertThat(d.stop()).isZero();
        }
    }

    @Test
    void anEditInPlaceBehindASymlinkToAnotherFolderIsReloadedWithoutASignal(@TempDir Path tmp) throws Exception {
        // /etc/busprobe.yaml -> /srv/conf/busprobe.yaml, edited where it is: the change happens in the
        // target's folder, not the link's. The control tick looks only every 10 s, later than this waits,
        // so a reload within 5 s is the watch's.
        Path links = Files.createDirectory(tmp.resolve("etc"));
        Path target = Files.createDirectory(tmp.resolve("srv")).resolve("busprobe.yaml");
        Files.writeString(target, "endpoints:\n  - name: before-edit\n    bus: nats\n    ports: [14382]\n");
        Path config = Files.createSymbolicLink(links.resolve("busprobe.yaml"), target);
        try (BusprobeProcess.Daemon d = start("--config", config.toString())) {
            assertThat(endpointNames()).contains("before-edit");
            Files.writeString(target, "endpoints:\n  - name: after-edit\n    bus: nats\n    ports: [14382]\n"
                    + "  - name: second\n    bus: nats\n    ports: [14383]\n");
            for (int i = 0; i < 50 && !d.log().contains("endpoints reloaded: 2"); i++) {
                Thread.sleep(100);
            }
            assertThat(d.log()).contains("endpoint config " + config + " changed", "endpoints reloaded: 2 endpoint(s)");
            assertThat(endpointNames()).contains("after-edit", "second").doesNotContain("before-edit");
            assertThat(d.stop()).isZero();
        }
    }

    private static void awaitReloads(BusprobeProcess.Daemon d, int count) throws InterruptedException {
        for (int i = 0; i < 50 && reloads(d) < count; i++) {
            Thread.sleep(100);
        }
        assertThat(reloads(d)).as(d.log()).isEqualTo(count);
    }

    private static long reloads(BusprobeProcess.Daemon d) {
        return d.log().lines().filter(l -> l.contains("endpoints reloaded")).count();
    }

    private List<String> endpointNames() {
        Sh.Result ep = busprobe.run("endpoints", "--json", "--all", "--window", "100ms");
        assertThat(ep.exit()).as(ep.err()).isZero();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) UnitJson.object(ep.out()).get("endpoints");
        return rows.stream().map(r -> (String) r.get("endpoint")).toList();
    }

    @Test
    void aMissingTracepointDisablesItsProbeAndTheRestRuns() throws Exception {
        try (BusprobeProcess.Daemon d = start("--pretend-absent", "sock:sock_rcvqueue_full,tcp_send_reset")) {
            assertThat(d.log()).contains("started, 18/20 probes attached")
                    .contains("probe disabled: sock:sock_rcvqueue_full")
                    .contains("probe disabled: tcp:tcp_send_reset");
            Sh.Result status = busprobe.run("status", "--json");
            assertThat(status.exit()).as(status.err()).isZero();
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> kinds = (Map<String, Map<String, Object>>) (Object)
                    UnitJson.object(status.out()).get("kinds");
            assertThat(kinds.get("rcvqueue_full").get("attached")).isEqualTo(false);
            assertThat(kinds.get("reset_sent").get("attached")).isEqualTo(false);
            assertThat(kinds.get("state").get("attached")).isEqualTo(true);
            assertThat(kinds.get("reset_received").get("attached")).isEqualTo(true);
            // still counting what it has: a refused connection is a state change and a received reset
            long before = ((Number) kinds.get("state").get("seen")).longValue();
            try (var ignored = new java.net.Socket(InetAddress.getLoopbackAddress(), 1)) {
                throw new AssertionError("nothing listens on port 1");
            } catch (java.net.ConnectException expected) {
                // RST
            }
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> after = (Map<String, Map<String, Object>>) (Object)
                    UnitJson.object(busprobe.run("status", "--json").out()).get("kinds");
            assertThat(((Number) after.get("state").get("seen")).longValue()).isGreaterThan(before);
            assertThat(d.stop()).isZero();
        }
    }

    @Test
    void tracefsThatCannotBeMountedDisablesOnlyTheSyscallProbesAndSaysWhy() {
        // no tracefs in this mount namespace, and no CAP_SYS_ADMIN to mount it: the accept
        // probes (classic syscall tracepoints) are off, everything on tp_btf runs. The legacy
        // debugfs path goes too (debugfs automounts tracefs under it): a bpftrace on the host may
        // have mounted it.
        Sh.Result r = busprobe.run(List.of("unshare", "-m", "sh", "-c",
                "umount -l /sys/kernel/tracing; umount -l /sys/kernel/debug 2>/dev/null; "
                        + "exec setpriv --bounding-set=-all,+bpf,+perfmon \"$0\" \"$@\""),
                "run", "--metrics-address", "127.0.0.1:0", "--duration", "2s");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("started, 10/20 probes attached")
                .contains("probe disabled: syscalls:sys_exit_accept4")
                .contains("tracefs is not mounted at /sys/kernel/tracing and mounting it failed (EPERM)");
    }

    // ---- host faults: one line, exit 3, nothing loaded or pinned ------------

    private void assertRefusedByHost(Sh.Result r, String... fragments) {
        assertThat(r.exit()).as(r.err()).isEqualTo(3);
        assertThat(r.err().strip()).as("one line").doesNotContain("\n").startsWith("busprobe: ").contains(fragments);
        assertThat(busprobe.pinDir()).as("nothing pinned").doesNotExist();
    }

    @Test
    void nonRootIsRefusedInOneLine() {
        assertRefusedByHost(busprobe.runAsNobody("run"), "needs root", "CAP_BPF", "sudo");
        assertThat(busprobe.runAsNobody("run").err()).as("one prefix").startsWith("busprobe: needs root");
        assertRefusedByHost(busprobe.runAsNobody("trace", "--duration", "1s"), "needs root");
        assertRefusedByHost(busprobe.runAsNobody("status"), "needs root");
    }

    @Test
    void aConfigTheUserCannotReadIsBadInputNamedInOneLine(@TempDir Path tmp) throws IOException {
        // as nobody, since root reads a mode-000 file anyway; the config is read before privileges matter
        Path dir = Files.createDirectory(tmp.resolve("etc"));
        Path config = Files.writeString(dir.resolve("endpoints.yaml"), "endpoints: []\n");
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(config, java.nio.file.attribute.PosixFilePermissions.fromString("---------"));
        Sh.Result r = busprobe.runAsNobody("run", "--config", config.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains(config + ": permission denied");
    }

    @Test
    void noKernelBtfIsRefusedInOneLine() {
        // a private mount namespace where /sys/kernel/btf is empty
        assertRefusedByHost(busprobe.run(List.of("unshare", "-m", "sh", "-c",
                "mount -t tmpfs none /sys/kernel/btf && exec \"$0\" \"$@\""), "run"),
                "no kernel BTF at /sys/kernel/btf/vmlinux", "CONFIG_DEBUG_INFO_BTF");
    }

    @Test
    void noLibbpfIsRefusedInOneLine() {
        String lib = Sh.run("sh", "-c", "readlink -f $(ldconfig -p | awk '/libbpf.so.1 .*x86-64|libbpf.so.1 /{print $NF; exit}')")
                .strip();
        assertThat(lib).as("libbpf.so.1 on this host").isNotEmpty();
        assertRefusedByHost(busprobe.run(List.of("unshare", "-m", "sh", "-c",
                "mount --bind /dev/null " + lib + " && exec \"$0\" \"$@\""), "run"),
                "cannot load libbpf.so.1", "apt-get install libbpf1");
    }

    @Test
    void bpffsThatCannotBeMountedIsRefusedInOneLine() {
        // no bpffs at /sys/fs/bpf, and no CAP_SYS_ADMIN to mount one
        assertRefusedByHost(busprobe.run(List.of("unshare", "-m", "sh", "-c",
                "umount -l /sys/fs/bpf && exec setpriv --bounding-set=-all,+bpf,+perfmon \"$0\" \"$@\""),
                "run", "--metrics-address", "127.0.0.1:0"),
                "cannot mount bpffs at /sys/fs/bpf", "mount -t bpf bpf /sys/fs/bpf");
    }

    @Test
    void aPinDirectoryOffBpffsIsRefusedInOneLine(@TempDir Path tmp) {
        BusprobeProcess offBpffs = new BusprobeProcess(tmp.resolve("pins"));
        Sh.Result r = offBpffs.run("run", "--metrics-address", "127.0.0.1:0");
        assertThat(r.exit()).as(r.err()).isEqualTo(3);
        assertThat(r.err().strip()).doesNotContain("\n").contains("not bpffs", "BUSPROBE_PIN_DIR");
    }

    @Test
    void aBusyMetricsPortFailsBeforeAnythingIsLoaded() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Sh.Result r = busprobe.run("run", "--metrics-address", "127.0.0.1:" + taken.getLocalPort());
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.err().strip()).doesNotContain("\n")
                    .contains("cannot serve metrics on 127.0.0.1:" + taken.getLocalPort(), "--metrics-address");
            assertThat(busprobe.pinDir()).as("nothing pinned").doesNotExist();
        }
    }
}
