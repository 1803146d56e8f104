package io.busprobe.bindings;

import io.busprobe.maps.TopicSubscribers;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemoryLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code struct bp_topic_sub} is not bound by jextract (bpf/topic_sub.h is not in events.h):
 * the agent's hand-made layout must put every field where the header does, and be its size.
 */
class TopicSubLayoutTest {
    private static final Path HEADER = Path.of(System.getProperty("user.dir")).resolve("../bpf/topic_sub.h");

    @Test
    void everyFieldSitsWhereTheHeaderPutsIt() throws Exception {
        String text = Files.readString(HEADER);
        CLayout.Struct c = CLayout.parse(text).get("bp_topic_sub");
        var java = TopicSubscribers.LAYOUT;
        assertThat(java.memberLayouts().stream().map(l -> l.name().orElseThrow()).toList())
                .containsExactlyElementsOf(c.fields().keySet());
        c.fields().forEach((name, f) -> {
            assertThat(java.byteOffset(MemoryLayout.PathElement.groupElement(name))).as(name).isEqualTo(f.offset());
            assertThat(java.select(MemoryLayout.PathElement.groupElement(name)).byteSize()).as(name)
                    .isEqualTo(f.size());
        });
        Matcher size = Pattern.compile("#define BP_TOPIC_SUB_SIZE (\\d+)").matcher(text);
        assertThat(size.find()).isTrue();
        assertThat(java.byteSize()).isEqualTo(c.size()).isEqualTo(Long.parseLong(size.group(1)));
    }
}
