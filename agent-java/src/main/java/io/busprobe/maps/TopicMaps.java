package io.busprobe.maps;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.bp_topic_key;
import io.busprobe.bindings.bp_topic_name;
import io.busprobe.bindings.bp_topic_stats;
import io.busprobe.endpoint.Direction;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;

/**
 * The topic maps the send-side tagging fills (bpf/topic.bpf.h): exact retransmitted
 * segments and bytes sent per (endpoint, direction, topic) in {@code topic_stats},
 * each endpoint's untagged rest in {@code topic_other}, and the topics' names by tag
 * in {@code topic_names}. Over one endpoint and direction, the topics' retransmitted
 * segments plus other's are the endpoint's own {@code retrans_segs}.
 *
 * {@snippet :
 * TopicMaps topics = bpf.topicMaps();
 * for (TopicMaps.Row r : topics.rows()) System.out.println(r.name() + " " + r.retransSegs());
 * }
 */
public final class TopicMaps implements AutoCloseable {
    public static final String STATS = "topic_stats";
    public static final String OTHER = "topic_other";
    public static final String NAMES = "topic_names";
    /** How many Kafka topic IDs {@code topic_names} took: the daemon's alone, not pinned. */
    public static final String IDS_ADDED = "topic_ids_added";
    public static final String[] ALL = {STATS, OTHER, NAMES};
    /** The name of the row that holds what no topic took: untagged sends, and tags that found the table full. */
    public static final String OTHER_NAME = "other";

    private final int stats;
    private final int other;
    private final int names;
    private final int idsAdded;
    private final boolean ownsFds;
    private final Map<Long, Name> known = new HashMap<>();

    public TopicMaps(int stats, int other, int names) {
        this(stats, other, names, -1, false);
    }

    /** With {@value #IDS_ADDED}, which {@link #topicIdsAdded} reads. */
    public TopicMaps(int stats, int other, int names, int idsAdded) {
        this(stats, other, names, idsAdded, false);
    }

    private TopicMaps(int stats, int other, int names, int idsAdded, boolean ownsFds) {
        this.stats = stats;
        this.other = other;
        this.names = names;
        this.idsAdded = idsAdded;
        this.ownsFds = ownsFds;
    }

    /** The maps a running daemon pinned under {@code dir}. */
    public static TopicMaps openPinned(java.nio.file.Path dir) {
        int[] fds = Pins.open(dir, ALL);
        return new TopicMaps(fds[0], fds[1], fds[2], -1, true);
    }

    /** What a tagged request did: the label of {@code enum bp_topic_op}. */
    public static String opLabel(int op) {
        return switch (op) {
            case 1 -> "command";
            case 2 -> "publish";
            case 3 -> "spublish";
            case 4 -> "xadd";
            case 5 -> "pub";
            case 6 -> "hpub";
            case 7, 8 -> "produce";
            default -> "";
        };
    }

    /**
     * A Kafka topic ID (Produce v13+ names topics by ID) as Kafka prints it ({@code Uuid.toString()},
     * what {@code kafka-topics --describe} shows as TopicId: the 16 bytes in URL-safe base64 without
     * padding), after {@code id:}. Topic names cannot hold a colon, so no name reads like one.
     */
    static String kafkaTopicId(byte[] uuid) {
        return "id:" + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(uuid);
    }

    /** The worst topic first: most retransmitted segments, then most bytes sent, then by tag. */
    public static final Comparator<Row> WORST_FIRST = Comparator.comparingLong((Row r) -> -r.retransSegs())
            .thenComparingLong(r -> -r.bytesSent()).thenComparingLong(Row::tag);

    /** A topic's name and op, as its first send wrote them. */
    public record Name(String name, String op) {
    }

    /** One topic of one endpoint and direction; tag 0 is {@link #OTHER_NAME}. */
    public record Row(int endpoint, Direction direction, long tag, String name, String op, long retransSegs,
                      long bytesSent) {
    }

    /**
     * The name of a tag: {@link #OTHER_NAME} for 0, the hex tag when the names table had
     * no room for it. Names are cached once they are names: only a Kafka topic ID changes, once,
     * when the daemon writes its name over it ({@link #nameTopicId}).
     */
    public synchronized Name name(long tag) {
        if (tag == 0) {
            return new Name(OTHER_NAME, "");
        }
        Name n = known.get(tag);
        if (n != null) {
            return n;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_topic_name.allocate(a);
            if (Native.bpf_map_lookup_elem(names, a.allocateFrom(ValueLayout.JAVA_LONG, tag), v) != 0) {
                return new Name(Long.toHexString(tag), "");
            }
            int len = Math.min(Byte.toUnsignedInt(bp_topic_name.len(v)), Native.BP_TOPIC_LEN());
            byte[] b = new byte[len];
            MemorySegment.copy(v, ValueLayout.JAVA_BYTE, bp_topic_name.name$offset(), b, 0, len);
            int op = Byte.toUnsignedInt(bp_topic_name.op(v));
            if (op == Native.BP_OP_PRODUCE_ID()) {
                return new Name(kafkaTopicId(b), opLabel(op));
            }
            n = new Name(new String(b, StandardCharsets.UTF_8), opLabel(op));
        }
        known.put(tag, n);
        return n;
    }

    /**
     * How many Kafka topic IDs {@code topic_names} has taken, from {@value #IDS_ADDED}; -1 when
     * these maps were opened without it (then only a walk tells).
     */
    public long topicIdsAdded() {
        if (idsAdded < 0) {
            return -1;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
            Libbpf.check(Native.bpf_map_lookup_elem(idsAdded, a.allocateFrom(ValueLayout.JAVA_INT, 0), v),
                    "bpf_map_lookup_elem(" + IDS_ADDED + ")");
            return v.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * The tags whose name is still a Kafka topic ID (op {@code BP_OP_PRODUCE_ID}), with the ID's
     * 16 bytes; tags for which {@code skip} is true are not looked up, and {@code name} hears of
     * every tag looked up that holds a name, which never turns into an ID. One walk of
     * {@code topic_names}: a key step per entry, a lookup per tag not skipped. Not synchronized:
     * it shares nothing with the cache, and a walk of a full table must not hold up other readers.
     */
    public Map<Long, byte[]> topicIds(LongPredicate skip, LongConsumer name) {
        Map<Long, byte[]> out = new HashMap<>();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment key = a.allocate(ValueLayout.JAVA_LONG);
            MemorySegment next = a.allocate(ValueLayout.JAVA_LONG);
            MemorySegment v = bp_topic_name.allocate(a);
            MemorySegment cur = MemorySegment.NULL;
            while (Native.bpf_map_get_next_key(names, cur, next) == 0) {
                long tag = next.get(ValueLayout.JAVA_LONG, 0);
                key.set(ValueLayout.JAVA_LONG, 0, tag);
                cur = key;
                if (skip.test(tag) || Native.bpf_map_lookup_elem(names, key, v) != 0) {
                    continue;
                }
                if (Byte.toUnsignedInt(bp_topic_name.op(v)) != Native.BP_OP_PRODUCE_ID()) {
                    name.accept(tag);
                    continue;
                }
                byte[] id = new byte[Math.min(Byte.toUnsignedInt(bp_topic_name.len(v)), Native.BP_TOPIC_LEN())];
                MemorySegment.copy(v, ValueLayout.JAVA_BYTE, bp_topic_name.name$offset(), id, 0, id.length);
                out.put(tag, id);
            }
        }
        return out;
    }

    /**
     * Writes a Kafka topic's name over its ID in {@code topic_names} (op {@code BP_OP_PRODUCE}, as
     * Produce v12 and earlier write it), so that every reader, in any process, shows the name. The
     * tag stays the key, so the counts under it are untouched. The kernel only ever inserts a name
     * that is absent, so it never writes the ID back. A name longer than {@code BP_TOPIC_LEN} bytes
     * is cut as the kernel cuts one.
     */
    public void nameTopicId(long tag, String name) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(b.length, Native.BP_TOPIC_LEN());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = bp_topic_name.allocate(a);
            MemorySegment.copy(b, 0, v, ValueLayout.JAVA_BYTE, bp_topic_name.name$offset(), len);
            bp_topic_name.op(v, (byte) Native.BP_OP_PRODUCE());
            bp_topic_name.len(v, (byte) len);
            // BPF_ANY: names are never deleted, so the tag exists and this replaces it in place
            Libbpf.check(Native.bpf_map_update_elem(names, a.allocateFrom(ValueLayout.JAVA_LONG, tag), v,
                    Native.BPF_ANY()), "bpf_map_update_elem(" + NAMES + ")");
        }
    }

    /** Every topic row with a count, and every endpoint's other row that has one; summed over CPUs. */
    public synchronized List<Row> rows() {
        List<Row> out = new ArrayList<>();
        int cpus = Libbpf.check(Native.libbpf_num_possible_cpus(), "libbpf_num_possible_cpus");
        long stride = bp_topic_stats.layout().byteSize();
        try (Arena a = Arena.ofConfined()) {
            long keySize = bp_topic_key.layout().byteSize();
            MemorySegment key = a.allocate(keySize, 8);
            MemorySegment next = a.allocate(keySize, 8);
            MemorySegment all = a.allocate(stride * cpus, 8);
            MemorySegment cur = MemorySegment.NULL;
            while (Native.bpf_map_get_next_key(stats, cur, next) == 0) {
                MemorySegment.copy(next, 0, key, 0, keySize);
                cur = key;
                if (Native.bpf_map_lookup_elem(stats, key, all) != 0) {
                    continue;
                }
                long tag = bp_topic_key.topic(key);
                Name n = name(tag);
                out.add(new Row(Short.toUnsignedInt(bp_topic_key.endpoint(key)),
                        Direction.ofId(bp_topic_key.direction(key)), tag, n.name(), n.op(),
                        sum(all, cpus, stride, true), sum(all, cpus, stride, false)));
            }
            MemorySegment idx = a.allocate(ValueLayout.JAVA_INT);
            int dirs = Native.BP_DIRS();
            for (int i = 0; i < Native.BP_MAX_ENDPOINTS() * dirs; i++) {
                idx.set(ValueLayout.JAVA_INT, 0, i);
                Libbpf.check(Native.bpf_map_lookup_elem(other, idx, all), "bpf_map_lookup_elem(" + OTHER + ")");
                long retrans = sum(all, cpus, stride, true);
                long sent = sum(all, cpus, stride, false);
                if (retrans != 0 || sent != 0) {
                    out.add(new Row(i / dirs, Direction.ofId(i % dirs), 0, OTHER_NAME, "", retrans, sent));
                }
            }
        }
        return out;
    }

    private static long sum(MemorySegment all, int cpus, long stride, boolean retrans) {
        long total = 0;
        for (int cpu = 0; cpu < cpus; cpu++) {
            MemorySegment v = all.asSlice(cpu * stride, stride);
            total += retrans ? bp_topic_stats.retrans_segs(v) : bp_topic_stats.bytes_sent(v);
        }
        return total;
    }

    @Override
    public void close() {
        if (ownsFds) {
            Pins.close(stats, other, names);
        }
    }
}
