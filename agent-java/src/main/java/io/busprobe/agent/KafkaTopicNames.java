package io.busprobe.agent;

import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.endpoint.KafkaAdmin;
import io.busprobe.maps.TopicMaps;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.UnknownTopicIdException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Kafka topic IDs to names. Produce v13+ (kafka-clients 4.1+, KIP-516) names a topic by its
 * 16-byte ID only, so the kernel tags such a request by the ID (op {@code BP_OP_PRODUCE_ID}). This
 * asks the brokers of every kafka endpoint that has an {@code admin} entry, through kafka-clients'
 * Admin API ({@code describeTopics} by ID), and writes each name it learns over the ID in the
 * kernel's {@code topic_names} ({@link TopicMaps#nameTopicId}): every reader, the daemon's metrics
 * and event stream as well as the CLI's processes, then shows the name. The tag stays the key, so
 * the counts do not move. IDs no broker knows stay {@code id:...} and are asked again later.
 *
 * <p>Why the Admin API and not the Metadata responses on the producers' own connections: a
 * response is read by the producer, not sent by it, and the send-side probes never see it; the
 * topics' IDs also come in the first Metadata response of a connection, before busprobe might
 * have looked. A question to the broker works for connections opened before the daemon started
 * and needs no receive-side parsing; it costs a configured bootstrap (and credentials where the
 * cluster wants them).
 *
 * <p>Runs on a thread of its own ({@code busprobe-kafka}, see {@link Daemon#run}); a broker that
 * does not answer delays only this thread, by {@link #TIMEOUT_MILLIS} at most per endpoint.
 * Failures are logged, at most once per {@link #LOG_EVERY_NANOS} per endpoint unless the error
 * changes, and never thrown. Admin clients are created when first needed and closed by
 * {@link #close}, or when a reload drops their endpoint's {@code admin}.
 *
 * {@snippet :
 * try (KafkaTopicNames names = new KafkaTopicNames(session.bpf().topicMaps(), log)) {
 *     KafkaTopicNames.Pass p = names.resolve(config); // p.named() IDs got their names
 * }
 * }
 */
public final class KafkaTopicNames implements AutoCloseable {
    /** How often the daemon looks for new IDs: a topic shows as {@code id:...} for about this long. */
    public static final long PERIOD_SECONDS = 5;
    /** The longest one endpoint's brokers may take to answer a pass's question. */
    public static final int TIMEOUT_MILLIS = 5_000;
    /** An ID no broker knew is asked again after this: a topic created since, or on another cluster. */
    static final long RETRY_UNKNOWN_NANOS = 60_000_000_000L;
    /** A failing endpoint's line comes again after this, sooner only when its error changes. */
    static final long LOG_EVERY_NANOS = 600_000_000_000L;

    private final TopicMaps topics;
    private final Consumer<String> log;
    private final Map<KafkaAdmin, Admin> clients = new HashMap<>();
    /** Per endpoint name: the last error logged and when; cleared when it answers again. */
    private final Map<String, Object[]> failing = new HashMap<>();
    /** Tags known to hold a name (settled for good): sorted, so that a walk skips them in one probe. */
    private long[] settled = new long[0];
    /** Tags whose ID is still to be named after a pass: the ID, and when to ask again. */
    private final Map<Long, Retry> retries = new HashMap<>();
    /** {@link TopicMaps#topicIdsAdded} when the last walk started; a walk is due when it moved. */
    private long walkedAt = -1;

    public KafkaTopicNames(TopicMaps topics, Consumer<String> log) {
        this.topics = topics;
        this.log = log;
    }

    private record Retry(byte[] id, long at) {
    }

    /**
     * What one pass did.
     *
     * @param ids     IDs that had no name at the start of the pass (and were due)
     * @param named   of which the brokers named
     * @param unknown of which every broker that answered said it does not know them
     */
    public record Pass(int ids, int named, int unknown) {
        static final Pass IDLE = new Pass(0, 0, 0);
    }

    /**
     * One pass: the IDs in {@code topic_names} that have no name yet, asked of each endpoint of
     * {@code config} with an admin entry, in id order, until all are named. {@code topic_names} is
     * walked only when the kernel took an ID since the last walk ({@code topic_ids_added}); IDs
     * that no broker knew are asked again from memory when due. Never throws.
     */
    public synchronized Pass resolve(EndpointConfig config) {
        List<Endpoint> admins = config.endpoints().stream().filter(e -> e.admin() != null).toList();
        retire(admins);
        if (admins.isEmpty()) {
            return Pass.IDLE; // nothing to ask: not even the walk of topic_names
        }
        long now = System.nanoTime();
        Map<Long, byte[]> ids = new HashMap<>();
        retries.forEach((tag, r) -> {
            if (r.at() <= now) {
                ids.put(tag, r.id());
            }
        });
        List<Long> names = new ArrayList<>();
        try {
            long added = topics.topicIdsAdded();
            if (added < 0 || added != walkedAt) {
                ids.putAll(topics.topicIds(tag -> Arrays.binarySearch(settled, tag) >= 0 || retries.containsKey(tag),
                        names::add));
                walkedAt = added;
            }
        } catch (RuntimeException e) {
            complain("topic names", "", "reading " + TopicMaps.NAMES + ": " + e.getMessage());
            return Pass.IDLE;
        }
        Map<Uuid, Long> pending = new LinkedHashMap<>();
        ids.forEach((tag, id) -> {
            if (id.length == 16) {
                ByteBuffer b = ByteBuffer.wrap(id);
                pending.put(new Uuid(b.getLong(), b.getLong()), tag);
            } else {
                names.add(tag); // not an ID the kernel could have cut short; never ask
            }
        });

        int count = pending.size();
        int named = 0;
        boolean answered = false;
        for (Endpoint e : admins) {
            if (pending.isEmpty()) {
                break;
            }
            Map<Uuid, String> found = ask(e, pending.keySet());
            if (found == null) {
                continue;
            }
            answered = true;
            for (Map.Entry<Uuid, String> f : found.entrySet()) {
                Long tag = pending.remove(f.getKey());
                if (tag == null) {
                    continue; // an ID not asked: not ours to write
                }
                try {
                    topics.nameTopicId(tag, f.getValue());
                } catch (RuntimeException x) {
                    complain("topic names", "", "writing " + TopicMaps.NAMES + ": " + x.getMessage());
                    walkedAt = Long.MIN_VALUE; // walk again next pass: what is left is named by nothing else
                    return new Pass(count, named, 0);
                }
                names.add(tag);
                retries.remove(tag);
                named++;
            }
        }
        settle(names);
        // not named: unknown to every broker that answered (asked again in a minute), or no broker
        // answered (asked again next pass); either way from memory, as the next walk skips them
        int unknown = answered ? pending.size() : 0;
        for (long tag : pending.values()) {
            retries.put(tag, new Retry(ids.get(tag), answered ? now + RETRY_UNKNOWN_NANOS : now));
        }
        if (named > 0) {
            log.accept("kafka topic IDs named: " + named + (unknown > 0 ? ", unknown to the brokers: " + unknown : ""));
        }
        return new Pass(count, named, unknown);
    }

    /**
     * The names the endpoint's brokers give these IDs; null when they could not be asked (the
     * failure is logged). An ID missing from the answer is one they do not know.
     */
    private Map<Uuid, String> ask(Endpoint e, Set<Uuid> ids) {
        KafkaAdmin a = e.admin();
        try {
            Admin admin = clients.get(a);
            if (admin == null) {
                admin = Admin.create(properties(e.name(), a));
                clients.put(a, admin);
            }
            Map<Uuid, KafkaFuture<TopicDescription>> answers = admin.describeTopics(TopicCollection.ofTopicIds(ids),
                    new DescribeTopicsOptions().timeoutMs(TIMEOUT_MILLIS)).topicIdValues();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MILLIS + 1_000);
            Map<Uuid, String> found = new HashMap<>();
            for (Map.Entry<Uuid, KafkaFuture<TopicDescription>> f : answers.entrySet()) {
                try {
                    found.put(f.getKey(), f.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
                            .name());
                } catch (ExecutionException x) {
                    if (!(x.getCause() instanceof UnknownTopicIdException)) {
                        throw x;
                    }
                }
            }
            if (failing.remove(e.name()) != null) {
                log.accept("kafka topic names: endpoint " + e.name() + " (bootstrap " + a.bootstrapServers()
                        + ") answers again");
            }
            return found;
        } catch (ExecutionException x) {
            complain(e.name(), a.bootstrapServers(), String.valueOf(x.getCause()));
        } catch (TimeoutException x) {
            complain(e.name(), a.bootstrapServers(), "no answer in " + TIMEOUT_MILLIS + " ms");
        } catch (InterruptedException x) {
            Thread.currentThread().interrupt();
        } catch (IOException x) {
            complain(e.name(), a.bootstrapServers(), "cannot read " + a.properties() + ": " + x.getMessage());
        } catch (RuntimeException | LinkageError x) {
            // a bad client property (ConfigException), an unresolvable bootstrap, a closed client
            complain(e.name(), a.bootstrapServers(), x.toString());
            Admin broken = clients.remove(a);
            if (broken != null) {
                closeQuietly(broken);
            }
        }
        return null;
    }

    private static Properties properties(String endpoint, KafkaAdmin a) throws IOException {
        Properties p = new Properties();
        if (a.properties() != null) {
            try (InputStream in = Files.newInputStream(a.properties())) {
                p.load(in);
            }
        }
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, a.bootstrapServers());
        p.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "busprobe-" + endpoint);
        p.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT_MILLIS));
        p.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, String.valueOf(TIMEOUT_MILLIS));
        return p;
    }

    /** A failure line, unless the same one for the same endpoint was logged within {@link #LOG_EVERY_NANOS}. */
    private void complain(String endpoint, String bootstrap, String error) {
        long now = System.nanoTime();
        Object[] last = failing.get(endpoint);
        if (last != null && last[0].equals(error) && now - (long) last[1] < LOG_EVERY_NANOS) {
            return;
        }
        failing.put(endpoint, new Object[] {error, now});
        log.accept("kafka topic names: " + (bootstrap.isEmpty() ? "" : "endpoint " + endpoint + " (bootstrap "
                + bootstrap + "): ") + error + "; topics stay shown by ID, retrying every " + PERIOD_SECONDS + " s");
    }

    private void settle(List<Long> tags) {
        if (tags.isEmpty()) {
            return;
        }
        long[] more = Arrays.copyOf(settled, settled.length + tags.size());
        int n = settled.length;
        for (long t : tags) {
            more[n++] = t;
        }
        Arrays.sort(more);
        settled = more;
    }

    /** Closes the clients of admin entries that a reload removed. */
    private void retire(List<Endpoint> admins) {
        Set<KafkaAdmin> wanted = new HashSet<>();
        admins.forEach(e -> wanted.add(e.admin()));
        for (Iterator<Map.Entry<KafkaAdmin, Admin>> it = clients.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<KafkaAdmin, Admin> c = it.next();
            if (!wanted.contains(c.getKey())) {
                it.remove();
                closeQuietly(c.getValue());
            }
        }
    }

    private static void closeQuietly(Admin admin) {
        try {
            admin.close(Duration.ofSeconds(5));
        } catch (RuntimeException ignored) {
            // closing is best effort: the client's threads are daemon threads and die with the JVM
        }
    }

    @Override
    public synchronized void close() {
        clients.values().forEach(KafkaTopicNames::closeQuietly);
        clients.clear();
    }
}
