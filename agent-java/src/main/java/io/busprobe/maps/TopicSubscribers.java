package io.busprobe.maps;

import io.busprobe.bindings.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The receive side of topics: the bus client sockets that subscribed (map {@code topic_sub},
 * {@code bpf/topic_sub.bpf.h}), each with the topic of its first subscription and its receive
 * queue and offered window as the traffic refresh last sampled them. Read once per call; the
 * values are samples, not counts.
 *
 * {@snippet :
 * for (TopicSubscribers.Pressure p : TopicSubscribers.byTopic(bpf.topicSubscribers().rows(), bpf.topicMaps()))
 *     System.out.println(p.name() + " " + p.queueBytes() + " bytes unread by " + p.subscribers());
 * }
 */
public final class TopicSubscribers implements AutoCloseable {
    public static final String MAP = "topic_sub";

    /**
     * {@code struct bp_topic_sub} of {@code bpf/topic_sub.h}: not in events.h, so not bound by
     * jextract; TopicSubLayoutTest checks every field against the header's text.
     */
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ValueLayout.JAVA_LONG.withName("topic"),
            ValueLayout.JAVA_LONG.withName("sampled_ns"),
            ValueLayout.JAVA_INT.withName("rcv_queue"),
            ValueLayout.JAVA_INT.withName("rcv_window"),
            ValueLayout.JAVA_INT.withName("rcvbuf"),
            ValueLayout.JAVA_INT.withName("subscriptions"),
            ValueLayout.JAVA_INT.withName("zero_samples"),
            ValueLayout.JAVA_SHORT.withName("endpoint"),
            ValueLayout.JAVA_BYTE.withName("zero_window"),
            ValueLayout.JAVA_BYTE.withName("_pad")).withName("bp_topic_sub");

    private static final long TOPIC = offset("topic");
    private static final long SAMPLED_NS = offset("sampled_ns");
    private static final long RCV_QUEUE = offset("rcv_queue");
    private static final long RCV_WINDOW = offset("rcv_window");
    private static final long RCVBUF = offset("rcvbuf");
    private static final long SUBSCRIPTIONS = offset("subscriptions");
    private static final long ZERO_SAMPLES = offset("zero_samples");
    private static final long ENDPOINT = offset("endpoint");
    private static final long ZERO_WINDOW = offset("zero_window");

    private static long offset(String name) {
        return LAYOUT.byteOffset(MemoryLayout.PathElement.groupElement(name));
    }

    private final int fd;
    private final boolean ownsFd;

    public TopicSubscribers(int fd) {
        this(fd, false);
    }

    private TopicSubscribers(int fd, boolean ownsFd) {
        this.fd = fd;
        this.ownsFd = ownsFd;
    }

    /** The map a running daemon pinned under {@code dir}. */
    public static TopicSubscribers openPinned(java.nio.file.Path dir) {
        return new TopicSubscribers(Pins.open(dir, MAP)[0], true);
    }

    /**
     * One subscriber socket as last sampled. {@code sampledNanos} is 0 while no refresh has
     * sampled it yet (its queue and window then read 0).
     *
     * @param rcvQueue      bytes received and not yet read ({@code rcv_nxt - copied_seq})
     * @param rcvWindow     the window the socket offered, bytes
     * @param zeroWindow    the last sample found the offered window below one unit of its scale
     * @param zeroSamples   samples that found it so, over the socket's life
     * @param subscriptions subscription requests seen; more than 1: the queue holds other topics too
     */
    public record Subscriber(int endpoint, long tag, long rcvQueue, long rcvWindow, long rcvbuf, boolean zeroWindow,
                             long zeroSamples, long subscriptions, long sampledNanos) {
    }

    /**
     * The subscribers of one topic on one endpoint, summed.
     *
     * @param queueBytes  bytes waiting to be read by them
     * @param zeroWindow  how many of them offered a zero window when last sampled
     */
    public record Pressure(int endpoint, long tag, String name, int subscribers, long queueBytes, int zeroWindow) {
    }

    /** Most bytes waiting first, then most subscribers at a zero window, then by tag. */
    public static final Comparator<Pressure> SLOWEST_FIRST = Comparator.comparingLong((Pressure p) -> -p.queueBytes())
            .thenComparingInt(p -> -p.zeroWindow()).thenComparingLong(Pressure::tag);

    /** Every subscriber socket the kernel knows. One walk of the map: a key step and a lookup per socket. */
    public List<Subscriber> rows() {
        List<Subscriber> out = new ArrayList<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(ValueLayout.JAVA_LONG);
            MemorySegment next = a.allocate(ValueLayout.JAVA_LONG);
            MemorySegment v = a.allocate(LAYOUT);
            MemorySegment cur = MemorySegment.NULL;
            while (Native.bpf_map_get_next_key(fd, cur, next) == 0) {
                key.set(ValueLayout.JAVA_LONG, 0, next.get(ValueLayout.JAVA_LONG, 0));
                cur = key;
                if (Native.bpf_map_lookup_elem(fd, key, v) != 0) {
                    continue; // closed meanwhile
                }
                out.add(decode(v));
            }
        }
        return out;
    }

    static Subscriber decode(MemorySegment v) {
        return new Subscriber(Short.toUnsignedInt(v.get(ValueLayout.JAVA_SHORT, ENDPOINT)),
                v.get(ValueLayout.JAVA_LONG, TOPIC), u32(v, RCV_QUEUE), u32(v, RCV_WINDOW), u32(v, RCVBUF),
                v.get(ValueLayout.JAVA_BYTE, ZERO_WINDOW) != 0, u32(v, ZERO_SAMPLES), u32(v, SUBSCRIPTIONS),
                v.get(ValueLayout.JAVA_LONG, SAMPLED_NS));
    }

    private static long u32(MemorySegment v, long offset) {
        return Integer.toUnsignedLong(v.get(ValueLayout.JAVA_INT, offset));
    }

    /**
     * Subscribers summed per endpoint and topic name (two tags of one name, a channel cut at
     * BP_TOPIC_LEN bytes, are one row), the slowest first.
     */
    public static List<Pressure> byTopic(List<Subscriber> subscribers, TopicMaps names) {
        Map<String, Pressure> sums = new LinkedHashMap<>();
        for (Subscriber s : subscribers) {
            String name = names.name(s.tag()).name();
            sums.merge(s.endpoint() + "/" + name,
                    new Pressure(s.endpoint(), s.tag(), name, 1, s.rcvQueue(), s.zeroWindow() ? 1 : 0),
                    (x, y) -> new Pressure(x.endpoint(), Math.min(x.tag(), y.tag()), x.name(),
                            x.subscribers() + y.subscribers(), x.queueBytes() + y.queueBytes(),
                            x.zeroWindow() + y.zeroWindow()));
        }
        return sums.values().stream().sorted(SLOWEST_FIRST).toList();
    }

    @Override
    public void close() {
        if (ownsFd) {
            Pins.close(fd);
        }
    }
}
