package io.busprobe.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Two test hosts, a server and a client network namespace joined by a veth
 * pair (10.S.N.1 server, 10.S.N.2 client). Removing the namespaces on
 * close also removes the veth pair and any nftables rules inside them.
 *
 * The addresses live only inside the two namespaces, but every busprobe on the
 * host sees their traffic: S (160-223) comes from this JVM's pid, so that a
 * test's endpoint rule on its server address matches none of another test
 * run's pairs (.ci/neighbours uses 10.232).
 *
 * {@snippet :
 * try (NetnsPair net = NetnsPair.create()) {
 *     net.nft(net.server(), "add rule inet bp input tcp dport 7001 reject with tcp reset");
 *     net.client("python3", "-c", "...");
 * }
 * }
 */
public final class NetnsPair implements AutoCloseable {
    private static int counter;
    private static final long SUBNET = 160 + ProcessHandle.current().pid() % 64;

    private final String server;
    private final String client;
    private final String serverIp;
    private final String clientIp;
    private final String serverDev;
    private final String clientDev;
    private final List<Process> processes = new ArrayList<>();
    private final int n;
    /** The root namespace's end of {@link #linkToRoot}'s veth pair, or null. */
    private String rootDev;

    private NetnsPair(int n) {
        this.n = n;
        String tag = "bp" + ProcessHandle.current().pid() + "x" + n;
        server = tag + "s";
        client = tag + "c";
        serverIp = "10." + SUBNET + "." + n + ".1";
        clientIp = "10." + SUBNET + "." + n + ".2";
        serverDev = server.substring(Math.max(0, server.length() - 13));
        clientDev = client.substring(Math.max(0, client.length() - 13));
    }

    public static synchronized NetnsPair create() {
        NetnsPair p = new NetnsPair(++counter % 250);
        try {
            p.setUp();
        } catch (RuntimeException | AssertionError e) {
            p.close();
            throw e;
        }
        return p;
    }

    private void setUp() {
        Sh.run("ip", "netns", "add", server);
        Sh.run("ip", "netns", "add", client);
        String vs = serverDev;
        String vc = clientDev;
        Sh.run("ip", "link", "add", vs, "type", "veth", "peer", "name", vc);
        Sh.run("ip", "link", "set", vs, "netns", server);
        Sh.run("ip", "link", "set", vc, "netns", client);
        Sh.run("ip", "-n", server, "addr", "add", serverIp + "/24", "dev", vs);
        Sh.run("ip", "-n", client, "addr", "add", clientIp + "/24", "dev", vc);
        for (String[] nsDev : new String[][] {{server, vs}, {client, vc}}) {
            Sh.run("ip", "-n", nsDev[0], "link", "set", nsDev[1], "up");
            Sh.run("ip", "-n", nsDev[0], "link", "set", "lo", "up");
        }
        for (String ns : List.of(server, client)) {
            Sh.run("ip", "netns", "exec", ns, "nft", "add table inet bp; "
                    + "add chain inet bp input { type filter hook input priority 0; policy accept; }");
        }
    }

    public String server() {
        return server;
    }

    public String client() {
        return client;
    }

    public String serverIp() {
        return serverIp;
    }

    public String clientIp() {
        return clientIp;
    }

    /** The server's end of the veth pair, inside the server namespace. */
    public String serverDev() {
        return serverDev;
    }

    /** The client's end of the veth pair, inside the client namespace. */
    public String clientDev() {
        return clientDev;
    }

    /**
     * A second veth pair, between the root namespace (where a test's own busprobe runs) and the
     * server namespace, on a /30 of this pair's subnet: 10.S.N.253 in the root namespace,
     * 10.S.N.254 in the server's. Returns the server's address, which a server process may listen
     * on for the test's own connections from the root namespace. Removed on close.
     */
    public String linkToRoot() {
        String base = "10." + SUBNET + "." + n + ".";
        String tag = "bp" + ProcessHandle.current().pid() + "x" + n;
        String root = (tag + "r").substring(Math.max(0, tag.length() + 1 - 13));
        String peer = (tag + "p").substring(Math.max(0, tag.length() + 1 - 13));
        Sh.run("ip", "link", "add", root, "type", "veth", "peer", "name", peer);
        rootDev = root;
        Sh.run("ip", "link", "set", peer, "netns", server);
        Sh.run("ip", "addr", "add", base + "253/30", "dev", root);
        Sh.run("ip", "-n", server, "addr", "add", base + "254/30", "dev", peer);
        Sh.run("ip", "link", "set", root, "up");
        Sh.run("ip", "-n", server, "link", "set", peer, "up");
        return base + "254";
    }

    /** Add nftables rules in a namespace's {@code inet bp} table (chain {@code input} exists). */
    public void nft(String ns, String rules) {
        Sh.run("ip", "netns", "exec", ns, "nft", rules);
    }

    /** The namespace's inode number: what busprobe records as {@code netns}. */
    public long inode(String ns) {
        try {
            return (long) Files.getAttribute(Path.of("/run/netns", ns), "unix:ino");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    /** A counter from the namespace's /proc/net/snmp, e.g. ("Tcp", "RetransSegs"). */
    public long snmp(String ns, String group, String name) {
        String[] lines = Sh.run("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith(group + ":") && lines[i + 1].startsWith(group + ":")) {
                String[] names = lines[i].split("\\s+");
                String[] values = lines[i + 1].split("\\s+");
                for (int j = 1; j < names.length; j++) {
                    if (names[j].equals(name)) {
                        return Long.parseLong(values[j]);
                    }
                }
            }
        }
        throw new AssertionError("no " + group + " " + name + " in /proc/net/snmp");
    }

    /**
     * Every counter of the namespace's /proc/net/snmp and /proc/net/netstat in one
     * reading, keyed group.name: {@code "Tcp.RetransSegs"}, {@code "TcpExt.TCPFastRetrans"}.
     */
    public java.util.Map<String, Long> mibs(String ns) {
        String[] lines = Sh.run("ip", "netns", "exec", ns, "cat", "/proc/net/snmp", "/proc/net/netstat").split("\n");
        java.util.Map<String, Long> out = new java.util.HashMap<>();
        for (int i = 0; i + 1 < lines.length; i += 2) {
            String[] names = lines[i].split("\\s+");
            String[] values = lines[i + 1].split("\\s+");
            String group = names[0].replace(":", "");
            for (int j = 1; j < names.length && j < values.length; j++) {
                out.put(group + "." + names[j], Long.parseLong(values[j]));
            }
        }
        return out;
    }

    /** Waits until something in the server namespace listens on {@code port}. */
    public void awaitListening(int port) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (Sh.run("ip", "netns", "exec", server, "ss", "-Hltn", "sport = :" + port).isBlank()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nothing listens on port " + port + " in " + server + " after 20 s");
            }
            Thread.sleep(50);
        }
    }

    /**
     * Waits until neither namespace has a TCP connection that could still retransmit
     * (only TIME-WAIT and listeners are left), so that counters read next are final.
     */
    public void awaitNoConnections() throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            boolean busy = false;
            for (String ns : List.of(client, server)) {
                busy |= Sh.run("ip", "netns", "exec", ns, "ss", "-Htan").lines()
                        .anyMatch(l -> !l.startsWith("TIME-WAIT") && !l.startsWith("LISTEN"));
            }
            if (!busy) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("TCP connections still open in " + client + " or " + server + " after 60 s");
    }

    /** Wait (at most 5 s) until the redis-server on the server address answers a PING from the client namespace. */
    public void awaitRedis() throws InterruptedException {
        for (int i = 0; i < 50; i++) {
            Sh.Result r = Sh.exec(10, prefixed(client(), "redis-cli", "-h", serverIp(), "ping"));
            if (r.out().contains("PONG")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("redis-server did not answer in 5 s");
    }

    /** Run a command inside a namespace to completion. */
    public String exec(String ns, long timeoutSeconds, String... cmd) {
        return Sh.run(timeoutSeconds, prefixed(ns, cmd));
    }

    /** Start a background command inside a namespace; stopped on close. */
    public Process start(String ns, String... cmd) {
        Process p = Sh.start(prefixed(ns, cmd));
        processes.add(p);
        return p;
    }

    public static String[] prefixed(String ns, String... cmd) {
        String[] full = new String[cmd.length + 4];
        full[0] = "ip";
        full[1] = "netns";
        full[2] = "exec";
        full[3] = ns;
        System.arraycopy(cmd, 0, full, 4, cmd.length);
        return full;
    }

    @Override
    public void close() {
        processes.forEach(Sh::stop);
        if (rootDev != null) {
            Sh.exec(10, "ip", "link", "del", rootDev); // also its peer, and whatever the namespace still holds
        }
        Sh.exec(10, "ip", "netns", "del", server);
        Sh.exec(10, "ip", "netns", "del", client);
    }
}
