package io.busprobe.bpf;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * What one endpoint-traffic refresh ({@link BusprobeObject#refreshTraffic()}) could not do: the
 * network namespaces with processes in them that it could not enter, and the capability each
 * lacked. Their sockets' bytes and segments still reach the endpoint counters, but only at a
 * retransmit and at close, so a quiet connection's traffic is late; this says so instead of
 * staying silent.
 *
 * {@snippet :
 * TrafficRefresh r = bpf.refreshTraffic();
 * if (!r.unreachable().isEmpty()) {
 *     log.accept(r.problem()); // "cannot count endpoint traffic in 1 of 4 network namespaces ..."
 * }
 * }
 *
 * @param namespaces  network namespaces with processes in them
 * @param unreachable those that could not be counted
 * @param walked      those the iterator walked: the others moved no TCP segment since their last walk
 *                    (or, in a paced refresh, only a trickle, see {@link BusprobeObject#refreshTraffic(boolean)})
 * @param busy        of those walked, the ones that moved more than a trickle (or were walked for the first time)
 */
public record TrafficRefresh(int namespaces, List<Unreachable> unreachable, int walked, int busy) {
    /** No refresh ran (no iterator attached, or none yet). */
    public static final TrafficRefresh NONE = new TrafficRefresh(0, List.of(), 0, 0);

    /** A refresh that walked no namespace. */
    public TrafficRefresh(int namespaces, List<Unreachable> unreachable) {
        this(namespaces, unreachable, 0, 0);
    }

    /**
     * @param key        names the namespace while it lives (inode of {@code /proc/PID/net/dev})
     * @param pid        a process in it
     * @param capability what busprobe lacked to enter it, e.g. {@code CAP_SYS_PTRACE}
     */
    public record Unreachable(long key, int pid, String capability) {
    }

    public TrafficRefresh {
        unreachable = List.copyOf(unreachable);
    }

    /** The capabilities that would let every namespace be counted, sorted. */
    public Set<String> missingCapabilities() {
        return unreachable.stream().map(Unreachable::capability).collect(Collectors.toCollection(TreeSet::new));
    }

    /** Identifies what is wrong: the same set of namespaces, lacking the same capabilities, is the same problem. */
    public Set<String> problemKey() {
        return unreachable.stream().map(u -> u.key() + "/" + u.capability())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /**
     * Which refreshes are news for the log: the first that finds namespaces it cannot enter, then
     * only one that finds a namespace (or a missing capability) the last line did not name, and
     * one when every namespace is counted again. A namespace is found through its processes, so
     * one whose only processes come and go (a batch job's, a load generator's) drops out of sight
     * and comes back; that is no news, and a set that only shrinks and grows back says nothing.
     * One per daemon, on the thread that refreshes.
     *
     * {@snippet :
     * TrafficRefresh.Log news = new TrafficRefresh.Log();
     * String line = news.next(bpf.refreshTraffic());
     * if (line != null) {
     *     log.accept(line);
     * }
     * }
     */
    public static final class Log {
        static final String ALL_COUNTED = "endpoint traffic counted in every network namespace again";

        /** What the last line named ({@link #problemKey}); empty when it said all were counted. */
        private Set<String> named = Set.of();

        /** The line to log for this refresh, or null when it has nothing new to say. */
        public String next(TrafficRefresh r) {
            Set<String> now = r.problemKey();
            if (now.isEmpty()) {
                if (named.isEmpty()) {
                    return null;
                }
                named = Set.of();
                return ALL_COUNTED;
            }
            if (named.containsAll(now)) {
                return null;
            }
            named = now;
            return r.problem();
        }
    }

    /** One log line: how many namespaces, examples of their processes, and the missing capabilities. */
    public String problem() {
        List<String> pids = unreachable.stream().limit(5).map(u -> Integer.toString(u.pid())).toList();
        return "cannot count endpoint traffic in " + unreachable.size() + " of " + namespaces
                + " network namespaces (processes " + String.join(", ", pids)
                + (unreachable.size() > pids.size() ? ", ..." : "") + "): busprobe lacks "
                + String.join(" and ", missingCapabilities())
                + " (CAP_SYS_PTRACE to open /proc/PID/ns/net of another user's or a more privileged process, "
                + "CAP_SYS_ADMIN to setns into it); their bytes and segments are counted only at retransmit and "
                + "close (busprobe_netns_unreachable)";
    }
}
