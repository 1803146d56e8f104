package io.busprobe.testutil;

import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.json.JsonFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A tiny JSON reader over jackson-core's streaming parser (no databind on the classpath). */
public final class UnitJson {
    private static final JsonFactory FACTORY = new JsonFactory();

    private UnitJson() {
    }

    /** Parses one JSON object: nested objects become maps, arrays lists, numbers Long/BigInteger/Double. */
    public static Map<String, Object> object(String json) {
        try (JsonParser p = FACTORY.createParser(ObjectReadContext.empty(), json)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException("not a JSON object: " + json);
            }
            Map<String, Object> m = readObject(p);
            if (p.nextToken() != null) {
                throw new IllegalArgumentException("trailing content after the object: " + json);
            }
            return m;
        }
    }

    private static Map<String, Object> readObject(JsonParser p) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String name = p.currentName();
            if (m.containsKey(name)) {
                throw new IllegalArgumentException("duplicate property " + name);
            }
            m.put(name, value(p, p.nextToken()));
        }
        return m;
    }

    private static Object value(JsonParser p, JsonToken t) {
        return switch (t) {
            case START_OBJECT -> readObject(p);
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                    l.add(value(p, e));
                }
                yield l;
            }
            case VALUE_STRING -> p.getString();
            case VALUE_NUMBER_INT -> {
                Number n = p.getNumberValue();
                yield n instanceof Integer i ? Long.valueOf(i) : n;
            }
            case VALUE_NUMBER_FLOAT -> p.getNumberValue().doubleValue();
            case VALUE_TRUE -> Boolean.TRUE;
            case VALUE_FALSE -> Boolean.FALSE;
            case VALUE_NULL -> null;
            default -> throw new IllegalArgumentException("unexpected token " + t);
        };
    }
}
