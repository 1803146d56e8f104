package io.busprobe.bindings;

import io.busprobe.event.EventKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.function.IntSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The jextract layouts of bpf/events.h, every struct that crosses the kernel/user boundary,
 * against the header itself: sizes against its BP_*_SIZE constants (each guarded by a
 * _Static_assert in C), and every field's offset and size against the C layout of the header's
 * text. If C and Java ever disagree on a wire struct, this fails before any kernel is involved.
 */
class WireLayoutTest {
    private static final Path HEADER = Path.of(System.getProperty("user.dir")).resolve("../bpf/events.h");

    static Stream<Arguments> sizedStructs() {
        return Stream.of(
                Arguments.of("bp_tuple", bp_tuple.layout(), (IntSupplier) Native::BP_TUPLE_SIZE),
                Arguments.of("bp_drop_loss", bp_drop_loss.layout(), (IntSupplier) Native::BP_DROP_LOSS_SIZE),
                Arguments.of("bp_event", bp_event.layout(), (IntSupplier) Native::BP_EVENT_SIZE),
                Arguments.of("bp_kind_stats", bp_kind_stats.layout(), (IntSupplier) Native::BP_KIND_STATS_SIZE),
                Arguments.of("bp_sample_cfg", bp_sample_cfg.layout(), (IntSupplier) Native::BP_SAMPLE_CFG_SIZE),
                Arguments.of("bp_sample_state", bp_sample_state.layout(), (IntSupplier) Native::BP_SAMPLE_STATE_SIZE),
                Arguments.of("bp_settings", bp_settings.layout(), (IntSupplier) Native::BP_SETTINGS_SIZE),
                Arguments.of("bp_agent_state", bp_agent_state.layout(), (IntSupplier) Native::BP_AGENT_STATE_SIZE),
                Arguments.of("bp_endpoint_key", bp_endpoint_key.layout(), (IntSupplier) Native::BP_ENDPOINT_KEY_SIZE),
                Arguments.of("bp_endpoint_name", bp_endpoint_name.layout(),
                        (IntSupplier) Native::BP_ENDPOINT_NAME_SIZE),
                Arguments.of("bp_endpoint_stats", bp_endpoint_stats.layout(),
                        (IntSupplier) Native::BP_ENDPOINT_STATS_SIZE),
                Arguments.of("bp_proc_key", bp_proc_key.layout(), (IntSupplier) Native::BP_PROC_KEY_SIZE),
                Arguments.of("bp_proc_stats", bp_proc_stats.layout(), (IntSupplier) Native::BP_PROC_STATS_SIZE),
                Arguments.of("bp_peer_key", bp_peer_key.layout(), (IntSupplier) Native::BP_PEER_KEY_SIZE),
                Arguments.of("bp_peer_stats", bp_peer_stats.layout(), (IntSupplier) Native::BP_PEER_STATS_SIZE),
                Arguments.of("bp_retrans_stats", bp_retrans_stats.layout(), (IntSupplier) Native::BP_RETRANS_STATS_SIZE),
                Arguments.of("bp_topic_name", bp_topic_name.layout(), (IntSupplier) Native::BP_TOPIC_NAME_SIZE),
                Arguments.of("bp_topic_key", bp_topic_key.layout(), (IntSupplier) Native::BP_TOPIC_KEY_SIZE),
                Arguments.of("bp_topic_stats", bp_topic_stats.layout(), (IntSupplier) Native::BP_TOPIC_STATS_SIZE),
                Arguments.of("bp_event_drop", bp_event_drop.layout(), (IntSupplier) Native::BP_EVENT_DROP_SIZE));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sizedStructs")
    void layoutSizeMatchesHeaderConstant(String name, GroupLayout layout, IntSupplier cSize) {
        assertThat(layout.byteSize()).as("sizeof(struct %s)", name).isEqualTo(cSize.getAsInt());
        assertThat(layout.name()).contains(name);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sizedStructs")
    void sizeIsMultipleOfAlignment(String name, GroupLayout layout, IntSupplier cSize) {
        // an array of these (per-CPU values, ring records) has no gaps
        assertThat(layout.byteSize() % layout.byteAlignment()).as(name).isZero();
    }

    static Stream<Arguments> wireStructs() {
        return Stream.of(
                Arguments.of("bp_tuple", bp_tuple.layout()),
                Arguments.of("bp_drop_loss", bp_drop_loss.layout()),
                Arguments.of("bp_event", bp_event.layout()),
                Arguments.of("bp_event_retransmit", bp_event_retransmit.layout()),
                Arguments.of("bp_event_state", bp_event_state.layout()),
                Arguments.of("bp_event_reset", bp_event_reset.layout()),
                Arguments.of("bp_event_pressure", bp_event_pressure.layout()),
                Arguments.of("bp_event_drop", bp_event_drop.layout()),
                Arguments.of("bp_kind_stats", bp_kind_stats.layout()),
                Arguments.of("bp_sample_cfg", bp_sample_cfg.layout()),
                Arguments.of("bp_sample_state", bp_sample_state.layout()),
                Arguments.of("bp_settings", bp_settings.layout()),
                Arguments.of("bp_agent_state", bp_agent_state.layout()),
                Arguments.of("bp_endpoint_key", bp_endpoint_key.layout()),
                Arguments.of("bp_endpoint_name", bp_endpoint_name.layout()),
                Arguments.of("bp_endpoint_stats", bp_endpoint_stats.layout()),
                Arguments.of("bp_proc_key", bp_proc_key.layout()),
                Arguments.of("bp_proc_stats", bp_proc_stats.layout()),
                Arguments.of("bp_peer_key", bp_peer_key.layout()),
                Arguments.of("bp_peer_stats", bp_peer_stats.layout()),
                Arguments.of("bp_retrans_stats", bp_retrans_stats.layout()),
                Arguments.of("bp_topic_name", bp_topic_name.layout()),
                Arguments.of("bp_topic_key", bp_topic_key.layout()),
                Arguments.of("bp_topic_stats", bp_topic_stats.layout()));
    }

    /** Every struct the header declares is in the lists above: a new one cannot cross the boundary untested. */
    @Test
    void everyStructOfTheHeaderIsCovered() throws Exception {
        Set<String> tested = wireStructs().map(a -> (String) a.get()[0]).collect(Collectors.toSet());
        assertThat(CLayout.parse(Files.readString(HEADER)).keySet()).containsExactlyInAnyOrderElementsOf(tested);
        Set<String> sized = sizedStructs().map(a -> (String) a.get()[0]).collect(Collectors.toSet());
        Matcher constants = Pattern.compile("#define BP_(\\w+)_SIZE ").matcher(Files.readString(HEADER));
        while (constants.find()) {
            assertThat(sized).as("BP_%s_SIZE", constants.group(1)).contains("bp_" + constants.group(1).toLowerCase(Locale.ROOT));
        }
    }

    /**
     * Each field's offset and size in the jextract layout equals what a C compiler makes of the
     * header's text under the natural alignment of its fixed-width types ({@link CLayout}).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("wireStructs")
    void everyFieldSitsWhereTheHeaderPutsIt(String name, GroupLayout layout) throws Exception {
        CLayout.Struct c = CLayout.parse(Files.readString(HEADER)).get(name);
        assertThat(c).as("struct %s in bpf/events.h", name).isNotNull();
        assertThat(layout.byteSize()).as("sizeof(struct %s)", name).isEqualTo(c.size());
        assertThat(layout.memberLayouts().stream().map(m -> m.name().orElseThrow()))
                .as("fields of %s", name).containsExactlyElementsOf(c.fields().keySet());
        c.fields().forEach((field, at) -> {
            assertThat(layout.byteOffset(groupElement(field))).as("offsetof(struct %s, %s)", name, field)
                    .isEqualTo(at.offset());
            assertThat(layout.select(groupElement(field)).byteSize()).as("sizeof %s.%s", name, field)
                    .isEqualTo(at.size());
        });
    }

    /** The header promises explicit padding only: jextract must not have inserted any. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("wireStructs")
    void noImplicitPadding(String name, GroupLayout layout) {
        assertThat(layout).isInstanceOf(StructLayout.class);
        for (MemoryLayout m : layout.memberLayouts()) {
            assertThat(m).as("%s member %s", name, m).isNotInstanceOf(PaddingLayout.class);
        }
    }

    @Test
    void unionMembersFitTheUnionAndTheEventEndsWithIt() {
        GroupLayout u = bp_event.u.layout();
        assertThat(bp_event_retransmit.layout().byteSize()).isLessThanOrEqualTo(u.byteSize());
        assertThat(bp_event_state.layout().byteSize()).isLessThanOrEqualTo(u.byteSize());
        assertThat(bp_event_reset.layout().byteSize()).isLessThanOrEqualTo(u.byteSize());
        assertThat(bp_event_pressure.layout().byteSize()).isLessThanOrEqualTo(u.byteSize());
        assertThat(bp_event_drop.layout().byteSize()).isLessThanOrEqualTo(u.byteSize());
        assertThat(u.byteSize()).isEqualTo(Math.max(Math.max(
                Math.max(bp_event_retransmit.layout().byteSize(), bp_event_state.layout().byteSize()),
                Math.max(bp_event_reset.layout().byteSize(), bp_event_pressure.layout().byteSize())),
                bp_event_drop.layout().byteSize()));
        assertThat(bp_event.u$offset() + u.byteSize()).isEqualTo(Native.BP_EVENT_SIZE());
        assertThat(bp_event.tuple$layout().byteSize()).isEqualTo(Native.BP_TUPLE_SIZE());
    }

    /**
     * The committed bindings were generated from the header as it is now: every
     * {@code #define BP_*_SIZE} in bpf/events.h (each guarded there by a
     * _Static_assert on the C struct) equals the constant jextract generated.
     * Fails when someone changes the header and forgets {@code make bindings}.
     */
    @Test
    void bindingsAreGeneratedFromTheCurrentHeader() throws Exception {
        Matcher m = Pattern.compile("#define (BP_\\w+_SIZE) (\\d+)").matcher(Files.readString(HEADER));
        int checked = 0;
        while (m.find()) {
            java.lang.reflect.Method constant = Native.class.getMethod(m.group(1));
            assertThat(((Number) constant.invoke(null)).longValue()).as(m.group(1) + " in bpf/events.h vs bindings")
                    .isEqualTo(Long.parseLong(m.group(2)));
            checked++;
        }
        assertThat(checked).as("size constants found in bpf/events.h").isGreaterThanOrEqualTo(14);
    }

    @Test
    void eventKindIdsMatchTheHeaderEnum() {
        assertThat(EventKind.RETRANSMIT.id()).isEqualTo(Native.BP_KIND_RETRANSMIT());
        assertThat(EventKind.RETRANSMIT_SYNACK.id()).isEqualTo(Native.BP_KIND_RETRANSMIT_SYNACK());
        assertThat(EventKind.STATE.id()).isEqualTo(Native.BP_KIND_STATE());
        assertThat(EventKind.RESET_SENT.id()).isEqualTo(Native.BP_KIND_RESET_SENT());
        assertThat(EventKind.RESET_RECEIVED.id()).isEqualTo(Native.BP_KIND_RESET_RECEIVED());
        assertThat(EventKind.RCVQUEUE_FULL.id()).isEqualTo(Native.BP_KIND_RCVQUEUE_FULL());
        assertThat(EventKind.EXCEED_BUF_LIMIT.id()).isEqualTo(Native.BP_KIND_EXCEED_BUF_LIMIT());
        assertThat(EventKind.RETRANSMIT_FAILED.id()).isEqualTo(Native.BP_KIND_RETRANSMIT_FAILED());
        assertThat(EventKind.MAX).isEqualTo(Native.BP_KIND_MAX());
    }

    /**
     * Kinds are appended, never renumbered: ids 1..n without a gap, and BP_KIND_MAX
     * leaves room above them, so that the next kinds fit the pinned per-kind maps.
     */
    @Test
    void kindsAreNumberedWithoutGapsBelowMax() {
        int n = EventKind.values().length;
        assertThat(n).as("room for appended kinds").isLessThan(Native.BP_KIND_MAX() - 1);
        assertThat(EventKind.ofId(Native.BP_KIND_NONE())).isNull();
        assertThat(EventKind.ofId(Native.BP_KIND_MAX())).isNull();
        assertThat(EventKind.ofId(-1)).isNull();
        for (int id = 1; id < Native.BP_KIND_MAX(); id++) {
            EventKind k = EventKind.ofId(id);
            if (id <= n) {
                assertThat(k).as("kind %d", id).isNotNull();
                assertThat(k.id()).isEqualTo(id);
            } else {
                assertThat(k).as("kind %d, not yet appended", id).isNull();
            }
        }
    }

    @Test
    void ringBufferHeaderConstantsAreTheKernels() {
        assertThat(Native.BPF_RINGBUF_BUSY_BIT()).isEqualTo(1 << 31);
        assertThat(Native.BPF_RINGBUF_DISCARD_BIT()).isEqualTo(1 << 30);
        assertThat(Native.BPF_RINGBUF_HDR_SZ()).isEqualTo(8);
    }
}
