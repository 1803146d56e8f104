package io.busprobe.testkit;

import io.busprobe.agent.Session;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.KindStats;

import java.util.EnumSet;
import java.util.Map;

/**
 * A {@link Session} consumed by a background thread into a {@link Captured.Sink}
 * while the test makes traffic. {@link #finish} detaches, drains and returns the
 * exact kernel counters, so that afterwards every submitted record is in the sink.
 */
public final class LiveSession implements AutoCloseable {
    private final Session session;
    private final Captured.Sink sink = new Captured.Sink();
    private final Thread consumer;
    private volatile boolean stop;
    private volatile Throwable failure;
    private Map<EventKind, KindStats> stats;

    private LiveSession(Session session) {
        this.session = session;
        this.consumer = Thread.ofPlatform().name("test-ring-consumer").start(() -> {
            try {
                session.consume(() -> stop, Long.MAX_VALUE, Session.DEFAULT_POLL_MS, sink, (records, now) -> {
                });
            } catch (Throwable t) {
                failure = t;
            }
        });
    }

    public static LiveSession start(long ringSize) {
        return new LiveSession(Session.start(EnumSet.allOf(Family.class), ringSize));
    }

    public static LiveSession start(java.util.Set<Family> families, long ringSize,
                                    EndpointConfig endpoints) {
        return new LiveSession(Session.start(families, ringSize, null, false, endpoints));
    }

    /** As above, with a socket table of {@code socketTableSize} ({@code run --socket-table-size}). */
    public static LiveSession start(java.util.Set<Family> families, long ringSize, int socketTableSize,
                                    EndpointConfig endpoints) {
        return new LiveSession(Session.start(families, ringSize, socketTableSize, null, false, endpoints,
                java.util.Set.of()));
    }

    public Session session() {
        return session;
    }

    public Captured.Sink events() {
        return sink;
    }

    /** Stop consuming, detach every probe, drain the ring; returns exact counters. */
    public Map<EventKind, KindStats> finish() {
        if (stats != null) {
            return stats;
        }
        stop = true;
        try {
            consumer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failure != null) {
            throw new AssertionError("ring consumer failed", failure);
        }
        session.stopAndDrain(sink);
        stats = session.stats();
        return stats;
    }

    @Override
    public void close() {
        try {
            finish();
        } finally {
            session.close();
        }
    }
}
