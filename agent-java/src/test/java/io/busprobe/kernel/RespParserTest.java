package io.busprobe.kernel;

import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.EndpointConfig;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.TopicMaps.Row;
import io.busprobe.testkit.LiveSession;
import io.busprobe.testkit.NetnsPair;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The RESP parser of the send side, byte for byte: a client writes crafted pipelines to a
 * plain TCP sink (no Redis, so every byte is the test's own), and each tag's {@code bytes_sent}
 * must equal what the client itself counted for it. The cases are the parser's paths: requests
 * read whole from one window, names the window does not hold and names cut to 48 bytes, upper
 * and lower case, every op, runs of mixed channels, a request split inside its body over two
 * sends, write(2) and sendmsg(2) as well as send(2) (of a vectored send only the first buffer
 * is parsed, but the request it begins is charged whole), an inline command (nothing after it
 * is tagged), and
 * non-blocking sends that the socket takes in part or refuses with EAGAIN (what enter charged
 * is taken back at exit).
 */
@Privileged
class RespParserTest {
    private static final int PORT = 6379;

    /** Reads nothing until the file argv[3] exists, then everything; prints the byte count. */
    private static final String SINK = """
            import socket, sys, os, time
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            s.bind((sys.argv[1], int(sys.argv[2])))
            s.listen(1)
            print("listening", flush=True)
            c, _ = s.accept()
            deadline = time.time() + 60
            while not os.path.exists(sys.argv[3]) and time.time() < deadline:
                time.sleep(0.02)
            n = 0
            while True:
                d = c.recv(1 << 20)
                if not d:
                    break
                n += len(d)
            print("got", n, flush=True)
            """;

    /** The crafted sends; prints "exp OP NAME BYTES" per tag, "absent NAME", "sent N" and stats. */
    private static final String CLIENT = """
            import socket, sys, os, time
            host, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
            exp = {}
            def req(*args):
                out = b"*%d\\r\\n" % len(args)
                for a in args:
                    out += b"$%d\\r\\n%s\\r\\n" % (len(a), a)
                return out
            def add(op, name, n):
                exp[(op, name)] = exp.get((op, name), 0) + n
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4608)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c.connect((host, port))
            total = 0
            def send(b):
                global total
                n = c.send(b)
                assert n == len(b), (n, len(b))
                total += n
                time.sleep(0.01)
            msg = b"x" * 64
            # sixteen pipelined requests, each read whole from one window
            r = req(b"PUBLISH", b"ch-a", msg)
            send(r * 16); add("publish", "ch-a", 16 * len(r))
            # a 45-byte channel: its bytes lie past the window, the token steps read them
            long45 = b"L" * 45
            r = req(b"PUBLISH", long45, msg)
            send(r * 3); add("publish", long45.decode(), 3 * len(r))
            # two 60-byte channels that share their first 48 bytes: one tag, the name cut to 48
            cut1, cut2 = b"C" * 48 + b"-first-12345", b"C" * 48 + b"-second-1234"
            r1, r2 = req(b"PUBLISH", cut1, msg), req(b"PUBLISH", cut2, msg)
            send(r1 + r2); add("publish", "C" * 48, len(r1) + len(r2))
            # the ops, in any case; runs of mixed channels in one send
            rs = [req(b"publish", b"ch-lower", msg), req(b"SPUBLISH", b"sh-1", msg),
                  req(b"XADD", b"orders", b"*", b"f", b"v"), req(b"SET", b"k", b"v"),
                  req(b"PUBLISH", b"ch-m1", msg), req(b"PUBLISH", b"ch-m1", msg),
                  req(b"PUBLISH", b"ch-m2", msg), req(b"PUBLISH", b"ch-m1", msg)]
            send(b"".join(rs))
            for (op, name), r in zip([("publish", "ch-lower"), ("spublish", "sh-1"), ("xadd", "orders"),
                                      ("command", "SET"), ("publish", "ch-m1"), ("publish", "ch-m1"),
                                      ("publish", "ch-m2"), ("publish", "ch-m1")], rs):
                add(op, name, len(r))
            # a request split inside its message over two sends, and one more after it
            r = req(b"PUBLISH", b"ch-split", b"s" * 300)
            send(r[:100]); send(r[100:] + r); add("publish", "ch-split", 2 * len(r))
            # write(2) rather than send(2)
            r = req(b"PUBLISH", b"ch-write", msg)
            n = os.write(c.fileno(), r * 4); assert n == 4 * len(r); total += n; add("publish", "ch-write", n)
            # sendmsg of two buffers: only the first is parsed; the request it begins is charged whole,
            # the one after it in the second buffer is not tagged
            r, r2 = req(b"PUBLISH", b"ch-vec", msg), req(b"PUBLISH", b"ch-vec-2", msg)
            n = c.sendmsg([r[:40], r[40:] + r2]); assert n == len(r) + len(r2); total += n
            add("publish", "ch-vec", len(r)); print("absent ch-vec-2", flush=True)
            time.sleep(0.01)
            # an inline command: not RESP, so nothing of this send is tagged
            send(b"PING\\r\\n" + req(b"PUBLISH", b"ch-inline", msg)); print("absent ch-inline", flush=True)
            # non-blocking, into a full socket: taken in part, then refused, then sent whole
            time.sleep(0.2)
            r = req(b"PUBLISH", b"ch-part", b"y" * 65536)
            batch = r * 32
            c.setblocking(False)
            sent = partial = again = 0
            while sent < len(batch) and again < 3:
                try:
                    n = c.send(batch[sent:])
                    partial += n < len(batch) - sent
                    sent += n
                except BlockingIOError:
                    again += 1
                    time.sleep(0.05)
            open(go, "w").close()
            c.setblocking(True)
            c.sendall(batch[sent:])
            total += len(batch); add("publish", "ch-part", len(batch))
            print("partial", partial, "again", again, flush=True)
            for (op, name), n in exp.items():
                print("exp", op, name, n, flush=True)
            print("sent", total, flush=True)
            c.close()
            """;

    @Test
    void everyTagIsChargedTheBytesOfItsRequests(@TempDir Path tmp) throws Exception {
        try (NetnsPair net = NetnsPair.create()) {
            Path config = tmp.resolve("endpoints.yaml");
            Files.writeString(config, """
                    endpoints:
                      - name: sink
                        bus: redis
                        ports: [%d]
                        addresses: [%s/32]
                    """.formatted(PORT, net.serverIp()));
            Path go = tmp.resolve("go");
            try (var live = LiveSession.start(EnumSet.allOf(Family.class), 16 << 20, EndpointConfig.load(config))) {
                Process sink = net.start(net.server(), "python3", "-c", SINK, net.serverIp(), "" + PORT, go.toString());
                BufferedReader sinkOut = new BufferedReader(new InputStreamReader(sink.getInputStream()));
                assertThat(sinkOut.readLine()).isEqualTo("listening");
                Process client = net.start(net.client(), "python3", "-c", CLIENT, net.serverIp(), "" + PORT,
                        go.toString());
                BufferedReader out = new BufferedReader(new InputStreamReader(client.getInputStream()));
                Map<String, Long> expected = new LinkedHashMap<>();
                List<String> absent = new ArrayList<>();
                long sent = -1;
                int partial = -1, again = -1;
                for (String line; (line = out.readLine()) != null; ) {
                    String[] f = line.split(" ");
                    switch (f[0]) {
                        case "exp" -> expected.put(f[1] + "/" + f[2], Long.parseLong(f[3]));
                        case "absent" -> absent.add(f[1]);
                        case "partial" -> {
                            partial = Integer.parseInt(f[1]);
                            again = Integer.parseInt(f[3]);
                        }
                        case "sent" -> sent = Long.parseLong(f[1]);
                        default -> throw new AssertionError("client: " + line);
                    }
                }
                assertThat(client.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(client.exitValue()).as("the client's exit status").isZero();
                String got = sinkOut.readLine();
                assertThat(got).as("the sink's count").isEqualTo("got " + sent);
                live.finish();

                Map<String, Long> tagged = new LinkedHashMap<>();
                for (Row r : live.session().bpf().topicMaps().rows()) {
                    if (r.endpoint() == 1 && r.direction() == Direction.CLIENT && r.tag() != 0) {
                        tagged.merge(r.op() + "/" + r.name(), r.bytesSent(), Long::sum);
                    }
                }
                System.out.printf("RespParserTest: partial %d, again %d, expected %s, tagged %s%n",
                        partial, again, expected, tagged);
                assertThat(partial).as("sends the socket took in part").isPositive();
                assertThat(again).as("sends the socket refused (EAGAIN)").isPositive();
                assertThat(tagged).as("bytes_sent per tag").containsAllEntriesOf(expected);
                assertThat(tagged.keySet()).as("tags that no request carried")
                        .allMatch(expected::containsKey)
                        .noneMatch(k -> absent.stream().anyMatch(k::endsWith));
            }
        }
    }
}
