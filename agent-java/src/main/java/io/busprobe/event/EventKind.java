package io.busprobe.event;

import io.busprobe.bindings.Native;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Event kinds as numbered in {@code bpf/events.h} ({@code enum bp_kind}),
 * grouped into the probe families a user selects with {@code --kinds}.
 */
public enum EventKind {
    RETRANSMIT(Native.BP_KIND_RETRANSMIT(), "retransmit", Family.RETRANSMIT),
    RETRANSMIT_SYNACK(Native.BP_KIND_RETRANSMIT_SYNACK(), "retransmit_synack", Family.RETRANSMIT),
    STATE(Native.BP_KIND_STATE(), "state", Family.STATE),
    RESET_SENT(Native.BP_KIND_RESET_SENT(), "reset_sent", Family.RESET),
    RESET_RECEIVED(Native.BP_KIND_RESET_RECEIVED(), "reset_received", Family.RESET),
    RCVQUEUE_FULL(Native.BP_KIND_RCVQUEUE_FULL(), "rcvqueue_full", Family.PRESSURE),
    EXCEED_BUF_LIMIT(Native.BP_KIND_EXCEED_BUF_LIMIT(), "exceed_buf_limit", Family.PRESSURE),
    /** A retransmit attempt the kernel did not count in TcpRetransSegs (the segment was not sent). */
    RETRANSMIT_FAILED(Native.BP_KIND_RETRANSMIT_FAILED(), "retransmit_failed", Family.RETRANSMIT),
    /** A packet the kernel freed as dropped (skb:kfree_skb), with its drop reason. */
    DROP(Native.BP_KIND_DROP(), "drop", Family.DROP);

    /** Probe families: the unit of {@code --kinds}, of attach and of partial-attach reports. */
    public enum Family {
        RETRANSMIT, STATE, RESET, PRESSURE, DROP;

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }

        /**
         * The families a user's word names: a family label ({@code family:reset} says so
         * explicitly) or {@code all}, whatever the case and the blanks around it; empty when it
         * names none.
         */
        public static Set<Family> named(String word) {
            String w = word.trim().toLowerCase(Locale.ROOT);
            if (w.startsWith(FAMILY_PREFIX)) {
                w = w.substring(FAMILY_PREFIX.length());
            }
            if (w.equals("all")) {
                return EnumSet.allOf(Family.class);
            }
            for (Family f : values()) {
                if (f.label().equals(w)) {
                    return EnumSet.of(f);
                }
            }
            return EnumSet.noneOf(Family.class);
        }
    }

    /** {@code kind:retransmit}: the kind alone, where a bare word would name its family. */
    public static final String KIND_PREFIX = "kind:";
    /** {@code family:retransmit}: the family, as the bare word already means. */
    public static final String FAMILY_PREFIX = "family:";

    /** Number of slots in the per-kind maps ({@code BP_KIND_MAX}). */
    public static final int MAX = Native.BP_KIND_MAX();

    private static final EventKind[] BY_ID = new EventKind[MAX];

    static {
        for (EventKind k : values()) {
            BY_ID[k.id] = k;
        }
    }

    private final int id;
    private final String label;
    private final Family family;

    EventKind(int id, String label, Family family) {
        this.id = id;
        this.label = label;
        this.family = family;
    }

    public int id() {
        return id;
    }

    /** snake_case name used in JSON and metrics. */
    public String label() {
        return label;
    }

    public Family family() {
        return family;
    }

    /**
     * The kinds a user's word names: a kind label ({@code reset_sent}), a family label
     * ({@code reset}: all its kinds), {@code all}, or a qualified name, whatever the case and the
     * blanks around it; empty when it names none. {@code retransmit} is both a kind and a family
     * and names the family, as it always has; {@code kind:retransmit} is the kind alone and
     * {@code family:retransmit} the family. The one parser of kind names, for {@code sample --kind}
     * here and {@code trace --kinds} through {@link Family#named}.
     */
    public static Set<EventKind> named(String word) {
        String w = word.trim().toLowerCase(Locale.ROOT);
        if (w.startsWith(KIND_PREFIX)) {
            String label = w.substring(KIND_PREFIX.length());
            for (EventKind k : values()) {
                if (k.label.equals(label)) {
                    return EnumSet.of(k);
                }
            }
            return EnumSet.noneOf(EventKind.class);
        }
        Set<Family> families = Family.named(w);
        Set<EventKind> out = EnumSet.noneOf(EventKind.class);
        for (EventKind k : values()) {
            if (k.label.equals(w) || families.contains(k.family)) {
                out.add(k);
            }
        }
        return out;
    }

    /**
     * Every word {@link #named} accepts without a prefix, in the case the docs write them, then
     * {@code kind:NAME} for each kind whose bare name means its family instead, then {@code all}:
     * what completion offers.
     */
    public static java.util.List<String> names() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (EventKind k : values()) {
            out.add(k.label);
        }
        for (Family f : Family.values()) {
            if (!out.contains(f.label())) {
                out.add(f.label());
            }
        }
        for (EventKind k : values()) {
            if (named(k.label).size() > 1) {
                out.add(KIND_PREFIX + k.label);
            }
        }
        out.add("all");
        return out;
    }

    /** The kind for a wire id, or null for an id this build does not know. */
    public static EventKind ofId(int id) {
        return id > 0 && id < MAX ? BY_ID[id] : null;
    }
}
