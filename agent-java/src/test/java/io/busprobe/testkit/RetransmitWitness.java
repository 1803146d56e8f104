package io.busprobe.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel's own trace events on {@code tcp:tcp_retransmit_skb} and
 * {@code tcp:tcp_retransmit_synack}, in a tracefs instance of its own filtered to
 * one port: ground truth for how often the tracepoints fired and with which
 * {@code err}, independent of busprobe (ftrace, not BPF, records them). Removing
 * the instance on close leaves the global tracing state as it was.
 *
 * {@snippet :
 * try (RetransmitWitness w = RetransmitWitness.onPort(5201)) {
 *     ... traffic ...
 *     long busy = w.hits().stream().filter(h -> h.err() == -16).count();
 * }
 * }
 */
public final class RetransmitWitness implements AutoCloseable {
    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    private static final List<String> EVENTS = List.of("tcp_retransmit_skb", "tcp_retransmit_synack");
    /** {@code <task>-<pid> [cpu] <flags> <time>: <event>: ... sport=N dport=N ... [err=N]}, the ftrace line format. */
    private static final Pattern HIT = Pattern.compile("^\\s*(.*?)\\s+\\[\\d+\\]\\s+(\\S+)\\s+[\\d.]+: "
            + "(tcp_retransmit_skb|tcp_retransmit_synack): .*sport=(\\d+) dport=(\\d+)(?: .* err=(-?\\d+))?");

    /**
     * One firing of a tracepoint; {@code synack} for tcp_retransmit_synack, whose err is
     * always 0. {@code context} is the interrupted task and ftrace's irq/softirq flags.
     */
    public record Hit(boolean synack, int sport, int dport, int err, String context) {
        /**
         * Whether the hit interrupted a thread of PID 1. On the VM busprobe is tested on,
         * the kernel runs no BPF program for such hits (ftrace records them, BPF never
         * sees them, and no recursion miss is counted), which is outside busprobe.
         */
        public boolean inInitProcess() {
            String task = context.substring(0, context.indexOf(' '));
            String tid = task.substring(task.lastIndexOf('-') + 1);
            return !tid.equals("0") && tid.chars().allMatch(Character::isDigit)
                    && Files.exists(Path.of("/proc/1/task", tid));
        }
    }

    private final Path instance;

    private RetransmitWitness(Path instance) {
        this.instance = instance;
    }

    /** Start recording the tracepoints' hits on sockets with {@code port} at either end. */
    public static RetransmitWitness onPort(int port) {
        if (!Files.isDirectory(TRACEFS.resolve("instances"))) {
            Sh.run("mount", "-t", "tracefs", "nodev", TRACEFS.toString());
        }
        Path instance = TRACEFS.resolve("instances").resolve("busprobe-test-" + ProcessHandle.current().pid()
                + "-" + port);
        try {
            Files.createDirectory(instance);
            Files.writeString(instance.resolve("buffer_size_kb"), "8192");
            for (String event : EVENTS) {
                Path dir = instance.resolve("events/tcp").resolve(event);
                Files.writeString(dir.resolve("filter"), "sport == " + port + " || dport == " + port);
                Files.writeString(dir.resolve("enable"), "1");
            }
        } catch (IOException e) {
            Sh.exec(10, "rmdir", instance.toString());
            throw new AssertionError("cannot set up the trace instance " + instance, e);
        }
        return new RetransmitWitness(instance);
    }

    /** Every hit so far. */
    public List<Hit> hits() {
        List<Hit> out = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(instance.resolve("trace"))) {
                Matcher m = HIT.matcher(line);
                if (m.find()) {
                    out.add(new Hit(m.group(3).endsWith("synack"), Integer.parseInt(m.group(4)),
                            Integer.parseInt(m.group(5)), m.group(6) == null ? 0 : Integer.parseInt(m.group(6)),
                            m.group(1) + " " + m.group(2)));
                }
            }
            // the instance's ring never overwrote anything: every hit is in the list
            try (var cpus = Files.list(instance.resolve("per_cpu"))) {
                for (Path cpu : cpus.toList()) {
                    String stats = Files.readString(cpu.resolve("stats"));
                    if (!stats.contains("overrun: 0")) {
                        throw new AssertionError("trace instance overran on " + cpu.getFileName() + ": " + stats);
                    }
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out;
    }

    @Override
    public void close() {
        for (String event : EVENTS) {
            try {
                Files.writeString(instance.resolve("events/tcp").resolve(event).resolve("enable"), "0");
            } catch (IOException e) {
                // the instance goes anyway
            }
        }
        Sh.exec(10, "rmdir", instance.toString());
    }
}
