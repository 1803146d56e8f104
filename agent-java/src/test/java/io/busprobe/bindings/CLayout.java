package io.busprobe.bindings;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The C layout of the structs of a header such as {@code bpf/events.h}, computed from its text as
 * a C compiler for x86-64 or arm64 lays them out: {@code __u8} to {@code __u64} aligned to their
 * size, arrays of them (lengths as numbers, {@code #define}s or enum constants of the header),
 * structs declared earlier, and anonymous unions. That is all a wire header may use (fixed-width
 * types, explicit padding), so anything else, a pointer, a bitfield, an {@code int}, is an error
 * here, not a guess. A second opinion on jextract, derived without it.
 *
 * {@snippet :
 * CLayout.Struct tuple = CLayout.parse(Files.readString(Path.of("bpf/events.h"))).get("bp_tuple");
 * tuple.fields().get("sport"); // Field[offset=32, size=2]
 * }
 */
final class CLayout {
    /** Where a field sits in its struct, in bytes. */
    record Field(long offset, long size) {
    }

    /** A struct's size and alignment, and its fields in declaration order. */
    record Struct(long size, long align, Map<String, Field> fields) {
    }

    private static final Pattern STRUCT = Pattern.compile("(?ms)^struct\\s+(\\w+)\\s*\\{(.*?)^\\};");
    private static final Pattern MEMBER =
            Pattern.compile("(struct\\s+\\w+|__u8|__u16|__u32|__u64)\\s+(\\w+)\\s*(?:\\[\\s*(\\w+)\\s*\\])?");
    private static final Pattern DEFINE = Pattern.compile("(?m)^#define\\s+(\\w+)\\s+(\\d+)\\b");
    private static final Pattern ENUMERATOR = Pattern.compile("(?m)^\\s*(\\w+)\\s*=\\s*(\\d+)\\s*,");

    private CLayout() {
    }

    /** Every struct the header defines, by name (without {@code struct}). */
    static Map<String, Struct> parse(String header) {
        String text = header.replaceAll("(?s)/\\*.*?\\*/", "");
        Map<String, Long> constants = new HashMap<>();
        for (Pattern p : new Pattern[] {DEFINE, ENUMERATOR}) {
            Matcher m = p.matcher(text);
            while (m.find()) {
                constants.put(m.group(1), Long.parseLong(m.group(2)));
            }
        }
        Map<String, Struct> structs = new LinkedHashMap<>();
        Matcher m = STRUCT.matcher(text);
        while (m.find()) {
            structs.put(m.group(1), layout(m.group(2), structs, constants, false));
        }
        return structs;
    }

    private static Struct layout(String body, Map<String, Struct> structs, Map<String, Long> constants,
                                 boolean union) {
        Map<String, Field> fields = new LinkedHashMap<>();
        long end = 0;
        long align = 1;
        for (String member : members(body)) {
            String name;
            long size;
            long memberAlign;
            if (member.startsWith("union")) {
                Struct u = layout(member.substring(member.indexOf('{') + 1, member.lastIndexOf('}')), structs,
                        constants, true);
                name = member.substring(member.lastIndexOf('}') + 1).strip();
                size = u.size();
                memberAlign = u.align();
            } else {
                Matcher f = MEMBER.matcher(member);
                if (!f.matches()) {
                    throw new IllegalArgumentException("not a fixed-width member: " + member);
                }
                name = f.group(2);
                long elementSize;
                if (f.group(1).startsWith("struct")) {
                    Struct s = structs.get(f.group(1).substring(6).strip());
                    if (s == null) {
                        throw new IllegalArgumentException("struct declared later or elsewhere: " + member);
                    }
                    elementSize = s.size();
                    memberAlign = s.align();
                } else {
                    elementSize = Long.parseLong(f.group(1).substring(3)) / 8;
                    memberAlign = elementSize;
                }
                long count = f.group(3) == null ? 1
                        : f.group(3).matches("\\d+") ? Long.parseLong(f.group(3)) : constants.get(f.group(3));
                size = elementSize * count;
            }
            long offset = union ? 0 : roundUp(end, memberAlign);
            fields.put(name, new Field(offset, size));
            end = Math.max(end, offset + size);
            align = Math.max(align, memberAlign);
        }
        return new Struct(roundUp(end, align), align, fields);
    }

    /** The member declarations of a body, split at the semicolons outside braces. */
    private static List<String> members(String body) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        int start = 0;
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c == '{') {
                depth++;
            } else if (c == '}') {
                depth--;
            } else if (c == ';' && depth == 0) {
                String member = body.substring(start, i).strip().replaceAll("\\s+", " ");
                if (!member.isEmpty()) {
                    out.add(member);
                }
                start = i + 1;
            }
        }
        return out;
    }

    private static long roundUp(long n, long align) {
        return (n + align - 1) / align * align;
    }
}
