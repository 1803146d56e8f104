package io.busprobe.testkit;

import io.busprobe.event.Addresses;
import io.busprobe.event.EventKind;
import io.busprobe.event.EventView;
import io.busprobe.ringbuf.RecordHandler;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;

/** A copy of one event that outlives the ring callback, for assertions. */
public record Captured(EventKind kind, long ts, int pid, String comm, boolean taskValid, long netns, int flags,
                       String saddr, int sport, String daddr, int dport, int state, int oldState, int newState,
                       int segs, int retransKind, int err, int protocol, String memKind, long sockCookie,
                       int endpoint, int direction, boolean owner, long cgroupId, long seq, long endSeq,
                       long topic, int dropReason, boolean dropRx, long dropLocation, boolean hasCause,
                       int causeReason, long causeNetns, long durationNs) {

    public static Captured of(EventView ev) {
        return new Captured(ev.kind(), ev.tsNanos(), ev.pid(), ev.comm(), ev.taskValid(), ev.netns(), ev.flags(),
                Addresses.source(ev), ev.sport(), Addresses.destination(ev), ev.dport(), ev.state(),
                ev.oldState(), ev.newState(), ev.retransmitSegs(), ev.retransmitKind(), ev.retransmitErr(),
                ev.protocol(), ev.memKind(), ev.sockCookie(), ev.endpoint(), ev.direction(), ev.ownerKnown(),
                ev.cgroupId(), ev.retransmitSeq(), ev.retransmitEndSeq(), ev.retransmitTopic(),
                ev.dropReason(), ev.dropReceived(), ev.dropLocation(), ev.hasCause(), ev.causeReason(),
                ev.causeNetns(), ev.kind() == EventKind.STATE ? ev.stateDurationNanos() : 0);
    }

    /** Collects every record into a list (tests only: this allocates per event). */
    public static final class Sink implements RecordHandler {
        private final EventView view = new EventView();
        private final List<Captured> events = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void onRecord(java.lang.foreign.MemorySegment data, long offset, int length) {
            events.add(of(view.wrap(data, offset)));
        }

        public List<Captured> all() {
            synchronized (events) {
                return new ArrayList<>(events);
            }
        }

        public List<Captured> where(Predicate<Captured> p) {
            return all().stream().filter(p).toList();
        }

        public long count(EventKind kind) {
            return all().stream().filter(e -> e.kind() == kind).count();
        }
    }
}
