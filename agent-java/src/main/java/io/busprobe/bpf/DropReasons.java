package io.busprobe.bpf;

import io.busprobe.bindings.Native;
import io.busprobe.bindings.btf_enum;
import io.busprobe.bindings.btf_type;
import io.busprobe.ffi.Libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The names of the running kernel's drop reasons, read from its BTF ({@code enum skb_drop_reason}
 * in /sys/kernel/btf/vmlinux), never from a table of busprobe's own: every release adds reasons
 * and may renumber them. Names drop the enum's {@code SKB_DROP_REASON_} prefix
 * ({@code NETFILTER_DROP}, {@code SOCKET_RCVBUFF}); a value the enum lacks (a subsystem's reason,
 * {@code SKB_DROP_REASON_SUBSYS_MASK} bits set) is named after its subsystem and code.
 *
 * <p>Which reasons are losses is decided by name, in {@link #NOT_LOSSES}; README "Drops" says why
 * each one is there.
 *
 * {@snippet :
 * DropReasons reasons = DropReasons.running();
 * reasons.name(ev.dropReason());   // "NETFILTER_DROP"
 * reasons.loss(ev.dropReason());   // true
 * }
 */
public final class DropReasons {
    private static final String PREFIX = "SKB_DROP_REASON_";
    /** {@code SKB_DROP_REASON_SUBSYS_SHIFT} in include/net/dropreason.h: a #define, so not in BTF. */
    private static final int SUBSYS_SHIFT = 16;

    /**
     * Reasons counted but kept out of the loss figures: packets the kernel frees through the drop
     * path that no peer will miss.
     * <ul>
     * <li>{@code NOT_SPECIFIED}: a plain kfree_skb() not yet converted to a reason; mostly
     *     housekeeping (netlink, unix sockets, frees on error paths of local calls).</li>
     * <li>{@code TCP_OLD_DATA}, {@code TCP_OLD_SEQUENCE}, {@code TCP_OFOMERGE}, {@code TCP_OFO_DROP},
     *     {@code DUP_FRAG}: a duplicate of data the host already has (a spurious retransmit, an
     *     overlapping segment or fragment; for {@code TCP_OFO_DROP}, an out-of-order segment that
     *     the in-order data has since covered, the kernel's "data already in receive queue").</li>
     * <li>{@code QUEUE_PURGE}, {@code SOCKET_CLOSE}: data the local application walked away from
     *     (queues purged at close or reset), not data the network lost.</li>
     * <li>{@code UNIX_DISCONNECT}, {@code UNIX_SKIP_OOB}: AF_UNIX, not the network.</li>
     * <li>{@code OTHERHOST}: a frame for another host, seen in promiscuous mode.</li>
     * <li>{@code CONSUMED}, {@code NOT_DROPPED_YET}: not drops at all, should one ever come.</li>
     * </ul>
     */
    public static final Set<String> NOT_LOSSES = Set.of("NOT_SPECIFIED",
            "TCP_OLD_DATA", "TCP_OLD_SEQUENCE", "TCP_OFOMERGE", "TCP_OFO_DROP", "DUP_FRAG",
            "QUEUE_PURGE", "SOCKET_CLOSE", "UNIX_DISCONNECT", "UNIX_SKIP_OOB", "OTHERHOST", "CONSUMED",
            "NOT_DROPPED_YET");

    /** The label of the counter slot every reason from {@code BP_DROP_REASON_OTHER} up shares. */
    public static final String OTHER = "OTHER";

    private static volatile DropReasons running;

    private final Map<Integer, String> byCode;
    private final Map<Integer, String> subsystems;
    private final String[] slotNames;
    private final boolean[] slotLoss;

    private DropReasons(Map<Integer, String> byCode, Map<Integer, String> subsystems) {
        this.byCode = Map.copyOf(byCode);
        this.subsystems = Map.copyOf(subsystems);
        int slots = Native.BP_DROP_REASON_SLOTS();
        slotNames = new String[slots];
        slotLoss = new boolean[slots];
        for (int s = 0; s < slots; s++) {
            slotNames[s] = s == Native.BP_DROP_REASON_OTHER() ? OTHER : nameOf(s);
            slotLoss[s] = !NOT_LOSSES.contains(slotNames[s]);
        }
    }

    /** Reasons from a table (unit tests): code to name without the prefix. */
    public static DropReasons of(Map<Integer, String> byCode) {
        return new DropReasons(byCode, Map.of());
    }

    /** The running kernel's reasons, read from its BTF once per process. */
    public static DropReasons running() {
        DropReasons r = running;
        if (r == null) {
            synchronized (DropReasons.class) {
                r = running;
                if (r == null) {
                    r = fromKernelBtf();
                    running = r;
                }
            }
        }
        return r;
    }

    private static DropReasons fromKernelBtf() {
        MemorySegment btf = Libbpf.loadVmlinuxBtf();
        try {
            // a kernel before v5.17 has no enum: every drop is then reason 0, named by nameOf()
            return new DropReasons(enumValues(btf, "skb_drop_reason", PREFIX),
                    enumValues(btf, "skb_drop_reason_subsys", PREFIX + "SUBSYS_"));
        } finally {
            Native.btf__free(btf);
        }
    }

    /** An enum's values by number, names without {@code prefix} (and {@code SKB_} for SKB_CONSUMED). */
    private static Map<Integer, String> enumValues(MemorySegment btf, String enumName, String prefix) {
        Map<Integer, String> out = new HashMap<>();
        int id;
        try (Arena a = Arena.ofConfined()) {
            id = Native.btf__find_by_name_kind(btf, a.allocateFrom(enumName), Native.BTF_KIND_ENUM());
        }
        if (id <= 0) {
            return out;
        }
        MemorySegment type = Native.btf__type_by_id(btf, id).reinterpret(btf_type.layout().byteSize());
        int vlen = btf_type.info(type) & 0xffff; // btf_vlen(): the low 16 bits of info (include/uapi/linux/btf.h)
        long entry = btf_enum.layout().byteSize();
        // the values follow the type record (btf_enum(t) == (struct btf_enum *)(t + 1))
        MemorySegment values = MemorySegment.ofAddress(type.address() + type.byteSize()).reinterpret(vlen * entry);
        for (int i = 0; i < vlen; i++) {
            MemorySegment v = values.asSlice(i * entry, entry);
            String name = Native.btf__name_by_offset(btf, btf_enum.name_off(v)).reinterpret(256).getString(0);
            if (name.startsWith(prefix)) {
                name = name.substring(prefix.length());
            } else if (name.startsWith("SKB_")) {
                name = name.substring(4);
            }
            if (name.equals("MAX") || name.equals("SUBSYS_MASK") || name.equals("NUM")) {
                continue; // bounds and masks, not reasons
            }
            out.putIfAbsent(btf_enum.val(v), name);
        }
        return out;
    }

    /** The reason's name; a number the kernel's enum lacks is named by its subsystem and code. */
    public String name(int code) {
        if (code >= 0 && code < slotNames.length && code != Native.BP_DROP_REASON_OTHER()) {
            return slotNames[code];
        }
        return nameOf(code);
    }

    private String nameOf(int code) {
        String name = byCode.get(code);
        if (name != null) {
            return name;
        }
        int subsys = code >>> SUBSYS_SHIFT;
        if (subsys != 0) {
            return subsystems.getOrDefault(subsys, "SUBSYS_" + subsys) + "_" + (code & 0xffff);
        }
        return "REASON_" + Integer.toUnsignedString(code);
    }

    /** Whether a drop of this reason is a loss (see {@link #NOT_LOSSES}). */
    public boolean loss(int code) {
        if (code >= 0 && code < slotLoss.length && code != Native.BP_DROP_REASON_OTHER()) {
            return slotLoss[code];
        }
        return !NOT_LOSSES.contains(nameOf(code));
    }

    /** The label of a counter slot of {@code drop_stats}: the reason's name, or {@link #OTHER}. */
    public String slotName(int slot) {
        return slotNames[slot];
    }

    /** Whether a counter slot's drops are losses; the shared {@link #OTHER} slot counts as loss. */
    public boolean slotLoss(int slot) {
        return slotLoss[slot];
    }

    /** The kernel's value of a reason name, or -1 when this kernel has no such reason. */
    public int code(String name) {
        for (Map.Entry<Integer, String> e : byCode.entrySet()) {
            if (e.getValue().equals(name)) {
                return e.getKey();
            }
        }
        return -1;
    }

    /** Every reason this kernel names, by value. */
    public Map<Integer, String> all() {
        return Collections.unmodifiableMap(new TreeMap<>(byCode));
    }
}
