"""Shared pieces of the Python benches: a busprobe daemon of the bench's own
(pin directory and metrics port nobody else uses, so tests and an operator's
daemon on the same host are never measured in its place), BPF program lookup
through bpftool, CPU ticks from /proc, and a network-namespace pair.

Imported by bench/kernel-cost, bench/idle and bench/overhead (a script's own
directory is first on sys.path)."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUSPROBE = os.path.join(ROOT, "agent-java", "bin", "busprobe")
HZ = os.sysconf("SC_CLK_TCK")


def die(who, msg):
    sys.exit(f"{who}: {msg}")


def need_root_and_build(who):
    if os.geteuid() != 0:
        die(who, "needs root (loads BPF programs)")
    if not os.path.exists(os.path.join(ROOT, "agent-java", "target", "busprobe.jar")):
        die(who, "agent-java/target/busprobe.jar missing; run 'make build' first")
    os.environ.setdefault("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64")


def need_tools(who, tools):
    """tools: {command: Debian package}. One line naming what to install, before anything is started."""
    missing = {c: pkg for c, pkg in tools.items() if shutil.which(c) is None}
    if missing:
        die(who, f"{', '.join(missing)} not found; install it: apt-get install {' '.join(sorted(set(missing.values())))}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def progs():
    return json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], check=True, capture_output=True,
                                     text=True).stdout)


def prog_by_id(prog_id):
    return next((p for p in progs() if p["id"] == prog_id), None)


def xlated(prog_id):
    """(instruction count, {helper: static call sites}) of a loaded program."""
    out = subprocess.run(["bpftool", "prog", "dump", "xlated", "id", str(prog_id)], check=True,
                         capture_output=True, text=True).stdout
    insns = [l for l in out.splitlines() if re.match(r"\s*\d+: \(", l)]
    calls = {}
    for l in insns:
        m = re.search(r"call (\S+)", l)
        if m:
            name = re.sub(r"#-?\d+$", "", m.group(1))
            calls[name] = calls.get(name, 0) + 1
    return len(insns), calls


def cpu_ticks(pid):
    """utime + stime of the whole process (every thread, living or exited), in clock ticks."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Daemon:
    """`busprobe run` with default flags on a pin directory and metrics port of its own.

    The daemon keeps the sampling config pinned on purpose; the bench's pin directory is a
    throwaway and is removed on stop."""

    def __init__(self, who, tag, extra=()):
        self.who = who
        self.pin_dir = f"/sys/fs/bpf/busprobe-bench-{tag}-{os.getpid()}"
        self.port = free_port()
        self.env = dict(os.environ, BUSPROBE_PIN_DIR=self.pin_dir)
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"busprobe-{tag}-")
        self.proc = subprocess.Popen([BUSPROBE, "run", "--reset-config", "--metrics-address",
                                      f"127.0.0.1:{self.port}", "--summary-interval", "1h", *extra],
                                     stdout=self.log, stderr=self.log, env=self.env)
        self.pid = self.proc.pid

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.log.seek(0)
        self.stop()
        die(self.who, "busprobe did not become ready:\n" + self.log.read())

    def metrics(self):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()

    def events_total(self):
        return sum(float(v) for v in re.findall(r'^busprobe_events_total\{[^}]*\} (\S+)$', self.metrics(), re.M))

    def cli(self, *args):
        subprocess.run([BUSPROBE, *args], check=True, env=self.env, stdout=subprocess.DEVNULL)

    def prog(self, name):
        """Our daemon's program of that name: the one using the kind_stats map it pinned. Tests run on
        this machine alongside, and another daemon's program must never be measured in place of ours."""
        m = json.loads(subprocess.run(["bpftool", "map", "show", "pinned", os.path.join(self.pin_dir, "kind_stats"),
                                       "-j"], check=True, capture_output=True, text=True).stdout)
        ids = [p["id"] for p in progs() if p.get("name") == name and m["id"] in p.get("map_ids", [])]
        if len(ids) != 1:
            die(self.who, f"expected one {name} using map {m['id']}, found {ids}")
        return ids[0]

    def sibling(self, prog_id, name):
        """Our daemon's program of that name that uses none of the pinned maps (the accept-exit
        programs use only the socket map): the one sharing a map with our program prog_id."""
        maps = set(prog_by_id(prog_id)["map_ids"])
        ids = [p["id"] for p in progs() if p.get("name") == name and maps & set(p.get("map_ids", []))]
        if len(ids) != 1:
            die(self.who, f"expected one {name} sharing a map with program {prog_id}, found {ids}")
        return ids[0]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.pin_dir, ignore_errors=True)


class NetnsPair:
    """A server and a client namespace joined by a veth pair (10.232.0.1 server, 10.232.0.2 client),
    each with an empty `inet bpb` nftables table and input chain. Deleting the namespaces removes the
    veth pair and the rules."""
    SERVER_IP, CLIENT_IP = "10.232.0.1", "10.232.0.2"

    def __init__(self):
        tag = "bpb%d" % os.getpid()
        self.server, self.client = tag + "s", tag + "c"
        try:
            self._sh("ip", "netns", "add", self.server)
            self._sh("ip", "netns", "add", self.client)
            self.server_dev, self.client_dev = vs, vc = (tag + "s")[-13:], (tag + "c")[-13:]
            self._sh("ip", "link", "add", vs, "type", "veth", "peer", "name", vc)
            for ns, dev, ip in ((self.server, vs, self.SERVER_IP), (self.client, vc, self.CLIENT_IP)):
                self._sh("ip", "link", "set", dev, "netns", ns)
                self._sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
                self._sh("ip", "-n", ns, "link", "set", dev, "up")
                self._sh("ip", "-n", ns, "link", "set", "lo", "up")
                self.nft(ns, "add table inet bpb; add chain inet bpb input "
                             "{ type filter hook input priority 0; policy accept; }")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _sh(*cmd):
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)

    def nft(self, ns, rules):
        self._sh("ip", "netns", "exec", ns, "nft", rules)

    def cmd(self, ns, *cmd):
        return ["ip", "netns", "exec", ns, *cmd]

    def snmp(self, ns, group, name):
        text = subprocess.run(self.cmd(ns, "cat", "/proc/net/snmp"), check=True, capture_output=True,
                              text=True).stdout.splitlines()
        for head, vals in zip(text, text[1:]):
            if head.startswith(group + ":") and vals.startswith(group + ":"):
                names, values = head.split(), vals.split()
                if name in names:
                    return int(values[names.index(name)])
        raise KeyError(f"{group} {name}")

    def close(self):
        for ns in (self.server, self.client):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return float("nan")
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


class BpfStats:
    """Run statistics (run_time_ns, run_cnt) on for every BPF program while held: a
    BPF_ENABLE_STATS fd, which the kernel drops with the process, as the daemon does. Never the
    kernel.bpf_stats_enabled sysctl: that is the operator's, and a test that checks busprobe
    leaves it alone fails when a bench writes it beside the suite.

        with BpfStats():
            ...  # bpf_prog_info run_time_ns / run_cnt move
    """
    SYS_BPF = {"x86_64": 321, "aarch64": 280}
    BPF_ENABLE_STATS = 32

    def __enter__(self):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        attr = (ctypes.c_uint32 * 2)(0, 0)  # union bpf_attr.enable_stats.type = BPF_STATS_RUN_TIME (0)
        nr = self.SYS_BPF.get(os.uname().machine)
        if nr is None:
            sys.exit(f"BpfStats: no bpf syscall number known for {os.uname().machine}")
        self.fd = libc.syscall(nr, self.BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
        if self.fd < 0:
            sys.exit(f"BPF_ENABLE_STATS failed: {os.strerror(ctypes.get_errno())} (needs root)")
        return self

    def __exit__(self, *exc):
        os.close(self.fd)
        return False


if __name__ == "__main__" and sys.argv[1:2] == ["hold-stats"]:
    # for shell benches: `python3 bench/benchlib.py hold-stats & holder=$!` ... `kill $holder`
    with BpfStats():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print("holding", flush=True)
        while True:
            signal.pause()
