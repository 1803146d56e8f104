package io.busprobe.endpoint;

import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.ReaderException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.parser.Parser;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.busprobe.text.Messages.quoted;

/**
 * Reads the endpoint file. It works on snakeyaml's node tree (compose), not on constructed Java
 * objects, because only nodes keep the line each value came from, and every error must point
 * at one; it also keeps YAML's own typing (an unquoted {@code 010}, {@code yes}) out of the way.
 */
final class EndpointYaml {
    private static final List<String> ROOT_KEYS = List.of("endpoints");
    private static final List<String> ENDPOINT_KEYS = List.of("name", "bus", "ports", "addresses", "admin");
    private static final List<String> ADMIN_KEYS = List.of("bootstrap", "properties");
    /** Largest file read: 4096 rules with IPv6 prefixes and comments fit many times over. */
    static final int MAX_BYTES = 1 << 20;
    /** Deepest nesting: the file needs 4 (file, endpoints, endpoint, ports); the composer recurses per level. */
    static final int MAX_DEPTH = 16;
    /** Most aliases ({@code *name}): a few are handy, thousands are a billion-laughs bomb. */
    static final int MAX_ALIASES = 50;

    private final String file;
    /** Where a relative path in the file (admin properties) starts from: the file's directory. */
    private final Path dir;

    private EndpointYaml(String file, Path dir) {
        this.file = file;
        this.dir = dir;
    }

    static EndpointConfig load(Path path) {
        Path parent = path.toAbsolutePath().getParent();
        EndpointYaml y = new EndpointYaml(path.toString(), parent == null ? Path.of("/") : parent);
        return y.parse(y.read(path));
    }

    // One parsed endpoint and where its parts were, for errors found after parsing.
    private record Parsed(Endpoint endpoint, int line, Map<Integer, Integer> portLines) {
    }

    private String read(Path path) {
        BasicFileAttributes attributes;
        try {
            attributes = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            if (Files.isSymbolicLink(path)) {
                throw new ConfigException(file + ": a symbolic link to " + linkTarget(path) + ", which does not exist",
                        e);
            }
            Path parent = path.toAbsolutePath().getParent();
            String notDir = parent != null && Files.exists(parent) && !Files.isDirectory(parent)
                    ? " (" + parent + " is not a directory)" : "";
            throw new ConfigException(file + ": no such file" + notDir, e);
        } catch (IOException e) {
            throw cannotRead(e);
        }
        if (attributes.isDirectory()) {
            throw new ConfigException(file + ": is a directory; give the endpoint YAML file");
        }
        // A FIFO without a writer would block open() forever, a device such as /dev/zero never ends.
        if (!attributes.isRegularFile()) {
            throw new ConfigException(file
                    + ": not a regular file (a FIFO, socket or device); give the endpoint YAML file");
        }
        if (attributes.size() > MAX_BYTES) {
            throw tooLarge();
        }
        byte[] bytes;
        try (InputStream in = Files.newInputStream(path)) {
            bytes = in.readNBytes(MAX_BYTES + 1); // it may have grown since
        } catch (IOException e) {
            throw cannotRead(e);
        }
        if (bytes.length > MAX_BYTES) {
            throw tooLarge();
        }
        return utf8(bytes);
    }

    private ConfigException tooLarge() {
        return new ConfigException(file + ": larger than " + (MAX_BYTES >> 20) + " MiB; is this the endpoint file?");
    }

    private ConfigException cannotRead(IOException e) {
        return switch (e) {
            case AccessDeniedException _ -> new ConfigException(file
                    + ": permission denied; make it readable by the user running busprobe", e);
            case FileSystemException f when f.getReason() != null -> new ConfigException(file + ": cannot read: "
                    + f.getReason(), e);
            default -> new ConfigException(file + ": cannot read: " + e.getMessage(), e);
        };
    }

    private static String linkTarget(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "a missing file";
        }
    }

    /** Strict UTF-8: a bad byte is named with its line, never replaced. */
    private String utf8(byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length); // UTF-8 never decodes to more chars than bytes
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        if (r.isError()) {
            int at = in.position();
            int line = 1;
            for (int i = 0; i < at; i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new ConfigException(String.format("%s:%d: not UTF-8 text (byte 0x%02x at offset %d); save it as UTF-8",
                    file, line, bytes[at] & 0xff, at));
        }
        return out.flip().toString();
    }

    private EndpointConfig parse(String text) {
        Optional<Node> root;
        LoadSettings settings = LoadSettings.builder().setLabel(file).setMaxAliasesForCollections(MAX_ALIASES).build();
        BoundedParser parser = new BoundedParser(new ParserImpl(settings, new StreamReader(settings, text)));
        try {
            root = new Composer(settings, parser).getSingleNode();
        } catch (MarkedYamlEngineException e) {
            throw syntaxError(e);
        } catch (ReaderException e) {
            throw new ConfigException(file + ":" + lineOfCodePoint(text, e.getPosition())
                    + ": invalid YAML: " + oneLine(e.getMessage()) + String.format(" (U+%04X)", e.getCodePoint()), e);
        } catch (YamlEngineException e) {
            throw new ConfigException(file + ":" + parser.line + ": invalid YAML: " + oneLine(e.getMessage()), e);
        }
        if (root.isEmpty()) {
            throw new ConfigException(file + ":1: empty file; expected 'endpoints:' and a list of endpoints");
        }
        MappingNode top = mapping(root.get(), "the file");
        Map<String, NodeTuple> keys = keys(top, ROOT_KEYS);
        NodeTuple list = keys.get("endpoints");
        if (list == null) {
            throw error(top, "missing key 'endpoints'; list the endpoints under it");
        }
        Node items = value(list, "endpoints");
        if (!(items instanceof SequenceNode seq)) {
            throw error(items, "'endpoints' must be a list of endpoints (lines starting with '- '), found "
                    + describe(items));
        }
        if (seq.getValue().isEmpty()) {
            throw error(seq, "'endpoints' is empty; list at least one endpoint");
        }

        List<Parsed> parsed = new ArrayList<>();
        Map<String, Integer> nameLines = new HashMap<>();
        int rules = 0;
        for (Node item : seq.getValue()) {
            if (parsed.size() == EndpointConfig.MAX_ENDPOINTS) {
                throw error(item, "too many endpoints; at most " + EndpointConfig.MAX_ENDPOINTS
                        + " (ids 1.." + Endpoint.MAX_ID + ", 0 is the 'other' bucket)");
            }
            Parsed p = endpoint(item, parsed.size() + 1);
            Integer first = nameLines.putIfAbsent(p.endpoint.name(), p.line);
            if (first != null) {
                throw new ConfigException(file + ":" + p.line + ": duplicate name " + quoted(p.endpoint.name())
                        + ", first used on line " + first + "; names must be unique");
            }
            rules += EndpointConfig.ruleCount(p.endpoint);
            if (rules > EndpointConfig.MAX_RULES) {
                throw new ConfigException(file + ":" + p.line + ": too many rules; the endpoints up to "
                        + quoted(p.endpoint.name()) + " need " + rules + " kernel entries (ports x addresses), at most "
                        + EndpointConfig.MAX_RULES);
            }
            parsed.add(p);
        }

        List<Endpoint> endpoints = parsed.stream().map(Parsed::endpoint).toList();
        EndpointConfig.findOverlap(endpoints).ifPresent(o -> {
            Parsed first = parsed.get(o.first().id() - 1);
            Parsed second = parsed.get(o.second().id() - 1);
            throw new ConfigException(file + ":" + second.portLines.get(o.port()) + ": "
                    + o.message(" (line " + first.portLines.get(o.port()) + ")"));
        });
        try {
            return EndpointConfig.of(endpoints);
        } catch (IllegalArgumentException e) {
            // Every rule of of() is checked above with a line; this is the backstop.
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Stops what the composer would build from a hostile file before it builds it: nesting deep
     * enough to overflow the composer's recursion, and more aliases than {@value #MAX_ALIASES}.
     * It sees every event on its way to the composer, so it also knows the line an unmarked
     * engine error came from.
     */
    private final class BoundedParser implements Parser {
        private final Parser in;
        private int depth;
        private int aliases;
        int line = 1;

        BoundedParser(Parser in) {
            this.in = in;
        }

        @Override
        public boolean checkEvent(Event.ID id) {
            return in.checkEvent(id);
        }

        @Override
        public Event peekEvent() {
            return in.peekEvent();
        }

        @Override
        public boolean hasNext() {
            return in.hasNext();
        }

        @Override
        public Event next() {
            Event e = in.next();
            e.getStartMark().ifPresent(m -> line = m.getLine() + 1);
            switch (e.getEventId()) {
                case SequenceStart, MappingStart -> {
                    if (++depth > MAX_DEPTH) {
                        throw new ConfigException(file + ":" + line + ": nested more than " + MAX_DEPTH
                                + " levels deep; an endpoint file needs 4");
                    }
                }
                case SequenceEnd, MappingEnd -> depth--;
                case Alias -> {
                    if (++aliases > MAX_ALIASES) {
                        throw new ConfigException(file + ":" + line + ": more than " + MAX_ALIASES
                                + " aliases (*name); write the values out");
                    }
                }
                default -> {
                }
            }
            return e;
        }
    }

    private Parsed endpoint(Node item, int id) {
        MappingNode m = mapping(item, "an endpoint");
        int line = line(m);
        Map<String, NodeTuple> keys = keys(m, ENDPOINT_KEYS);

        NodeTuple nameKey = keys.get("name");
        if (nameKey == null) {
            throw error(m, "endpoint has no name; add name: followed by a-z, 0-9, '_', '.', '-'");
        }
        ScalarNode nameNode = scalar(value(nameKey, "name"), "'name'");
        String name = nameNode.getValue();
        validate(nameNode, () -> Endpoint.checkName(name));

        NodeTuple busKey = keys.get("bus");
        if (busKey == null) {
            throw error(m, "endpoint " + quoted(name) + " has no bus; add bus: kafka, redis, nats, amqp, http or other");
        }
        ScalarNode busNode = scalar(value(busKey, "bus"), "'bus'");
        BusType bus = check(busNode, () -> BusType.ofLabel(busNode.getValue()));

        NodeTuple portsKey = keys.get("ports");
        if (portsKey == null) {
            throw error(m, "endpoint " + quoted(name) + " has no ports; add ports: [PORT, ...]");
        }
        List<Integer> ports = new ArrayList<>();
        Map<Integer, Integer> portLines = new LinkedHashMap<>();
        for (ScalarNode n : list(value(portsKey, "ports"), "ports", "ports: [9092]", false)) {
            String t = n.getValue();
            if (!t.matches("[0-9]{1,9}")) {
                throw error(n, "bad port " + quoted(t) + "; ports are numbers 1..65535");
            }
            int port = Integer.parseInt(t);
            validate(n, () -> Endpoint.checkPort(port));
            if (portLines.putIfAbsent(port, line(n)) != null) {
                throw error(n, "port " + port + " listed twice in " + quoted(name));
            }
            ports.add(port);
        }

        List<Prefix> addresses = new ArrayList<>();
        NodeTuple addrKey = keys.get("addresses");
        if (addrKey != null) {
            // An empty list is the same as no key: any address.
            for (ScalarNode n : list(value(addrKey, "addresses"), "addresses", "addresses: [10.0.0.0/8]", true)) {
                Prefix p = check(n, () -> Prefix.parse(n.getValue()));
                if (addresses.contains(p)) {
                    throw error(n, "address " + p + " listed twice in " + quoted(name));
                }
                addresses.add(p);
            }
        }
        KafkaAdmin admin = null;
        NodeTuple adminKey = keys.get("admin");
        if (adminKey != null) {
            if (bus != BusType.KAFKA) {
                throw error(adminKey.getKeyNode(), "'admin' is for kafka endpoints (it asks the broker for topic names); "
                        + quoted(name) + " is " + bus.label());
            }
            admin = admin(value(adminKey, "admin"));
        }
        KafkaAdmin a = admin;
        Endpoint e = check(m, () -> new Endpoint(id, name, bus, ports, addresses, a));
        return new Parsed(e, line, portLines);
    }

    /** {@code admin: {bootstrap: HOST:PORT or a list of them, properties: FILE}}; the file must be readable now. */
    private KafkaAdmin admin(Node n) {
        if (!(n instanceof MappingNode m)) {
            throw error(n, "'admin' must be a mapping with bootstrap (and optionally properties), e.g. "
                    + "admin: {bootstrap: \"kafka-1:9092\"}, found " + describe(n));
        }
        Map<String, NodeTuple> keys = keys(m, ADMIN_KEYS);
        NodeTuple bootstrapKey = keys.get("bootstrap");
        if (bootstrapKey == null) {
            throw error(m, "'admin' has no bootstrap; add bootstrap: HOST:PORT of a broker, e.g. \"kafka-1:9092\"");
        }
        Node b = value(bootstrapKey, "bootstrap");
        List<ScalarNode> servers = b instanceof ScalarNode s ? List.of(s)
                : list(b, "bootstrap", "bootstrap: [\"kafka-1:9092\", \"kafka-2:9092\"]", false);
        List<String> bootstrap = new ArrayList<>();
        for (ScalarNode s : servers) {
            for (String server : s.getValue().split(",", -1)) {
                validate(s, () -> KafkaAdmin.checkServer(server.strip()));
                bootstrap.add(server.strip());
            }
        }
        Path properties = null;
        NodeTuple propsKey = keys.get("properties");
        if (propsKey != null) {
            ScalarNode p = scalar(value(propsKey, "properties"), "'properties'");
            properties = check(p, () -> dir.resolve(p.getValue()));
            if (!Files.isRegularFile(properties) || !Files.isReadable(properties)) {
                throw error(p, "admin properties " + properties + (Files.exists(properties)
                        ? " is not a readable file" : " does not exist") + "; give a kafka-clients properties file "
                        + "(paths are relative to " + dir + ")");
            }
        }
        return new KafkaAdmin(bootstrap, properties);
    }

    // --- node helpers: each turns a shape problem into a located one-line error

    private MappingNode mapping(Node n, String what) {
        if (n instanceof MappingNode m) {
            return m;
        }
        String hint = what.equals("the file") ? " starting with 'endpoints:'" : " with name, bus and ports";
        throw error(n, what + " must be a mapping" + hint + ", found " + describe(n));
    }

    /** The known keys of a mapping; unknown or repeated keys are errors. */
    private Map<String, NodeTuple> keys(MappingNode m, List<String> known) {
        Map<String, NodeTuple> out = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            Node k = t.getKeyNode();
            if (!(k instanceof ScalarNode s)) {
                throw error(k, "a key must be a plain word, found " + describe(k));
            }
            String key = s.getValue();
            if (!known.contains(key)) {
                throw error(k, "unknown key " + quoted(key) + "; " + suggest(key, known));
            }
            NodeTuple first = out.putIfAbsent(key, t);
            if (first != null) {
                throw error(k, "duplicate key " + quoted(key) + ", first on line "
                        + line(first.getKeyNode()));
            }
        }
        return out;
    }

    private Node value(NodeTuple t, String key) {
        Node v = t.getValueNode();
        if (v instanceof ScalarNode s && s.getTag().equals(Tag.NULL)) {
            throw error(t.getKeyNode(), quoted(key) + " has no value");
        }
        return v;
    }

    private ScalarNode scalar(Node n, String what) {
        if (n instanceof ScalarNode s) {
            return s;
        }
        throw error(n, what + " must be a single value, found " + describe(n));
    }

    private List<ScalarNode> list(Node n, String key, String example, boolean mayBeEmpty) {
        if (!(n instanceof SequenceNode seq)) {
            throw error(n, quoted(key) + " must be a list, e.g. " + example + ", found " + describe(n));
        }
        if (seq.getValue().isEmpty() && !mayBeEmpty) {
            throw error(n, quoted(key) + " is empty; list at least one, e.g. " + example);
        }
        List<ScalarNode> out = new ArrayList<>();
        for (Node item : seq.getValue()) {
            out.add(scalar(item, "each item of " + quoted(key)));
        }
        return out;
    }

    private interface Check<T> {
        T run();
    }

    /** Runs a validator of the model types and puts the node's line on its message. */
    private <T> T check(Node at, Check<T> check) {
        try {
            return check.run();
        } catch (IllegalArgumentException e) {
            throw error(at, e.getMessage());
        }
    }

    private void validate(Node at, Runnable validator) {
        check(at, () -> {
            validator.run();
            return null;
        });
    }

    private ConfigException error(Node at, String problem) {
        return new ConfigException(file + ":" + line(at) + ": " + problem);
    }

    private ConfigException syntaxError(MarkedYamlEngineException e) {
        Optional<Mark> mark = e.getProblemMark().or(e::getContextMark);
        String context = e.getContext() == null || e.getContext().isBlank() ? "" : e.getContext() + ", ";
        String problem = e.getProblem() == null ? "" : e.getProblem();
        // A plain scalar cannot start with ':' and "::1" is the commonest one in this file.
        String hint = problem.contains("found ':'") ? "; quote IPv6 addresses, e.g. \"::1\""
                : problem.contains("<block end>") || problem.contains("mapping values are not allowed")
                ? "; check the indentation" : "";
        return new ConfigException(file + mark.map(m -> ":" + (m.getLine() + 1)).orElse("")
                + ": invalid YAML: " + oneLine(context + problem) + hint, e);
    }

    private static int line(Node n) {
        return n.getStartMark().map(m -> m.getLine() + 1).orElse(1);
    }

    private static int lineOfCodePoint(String text, int position) {
        int line = 1;
        int[] cps = text.codePoints().limit(position).toArray();
        for (int cp : cps) {
            if (cp == '\n') {
                line++;
            }
        }
        return line;
    }

    private static String describe(Node n) {
        return switch (n) {
            case MappingNode _ -> "a mapping";
            case SequenceNode _ -> "a list";
            case ScalarNode s when s.getTag().equals(Tag.NULL) -> "nothing";
            case ScalarNode s -> quoted(s.getValue());
            default -> "a " + n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    /** "did you mean" for a near miss (typo, singular/plural), else the list of keys. */
    private static String suggest(String key, List<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = distance(key.toLowerCase(java.util.Locale.ROOT), k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        if (best != null && bestDistance <= Math.max(2, best.length() / 3)) {
            return "did you mean " + quoted(best) + "?";
        }
        return "the keys here are " + String.join(", ", known);
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
