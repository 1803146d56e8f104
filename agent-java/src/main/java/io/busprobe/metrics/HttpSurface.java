package io.busprobe.metrics;

import com.sun.net.httpserver.Authenticator;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.function.BooleanSupplier;

/**
 * What the agent's HTTP port answers, and nothing else. The Prometheus client's
 * server routes by path prefix and accepts any method; the agent runs as root on
 * every host, so its one listening socket is narrowed here:
 *
 * <ul>
 *   <li>{@code GET}/{@code HEAD} only; any other method is 405 with {@code Allow}, before a handler runs;</li>
 *   <li>exactly {@link #PATHS}; anything else, {@code /metricsX} included, is 404;</li>
 *   <li>{@code /-/healthy} (liveness): 200 while the consumer loop makes progress, 503 when it is wedged;</li>
 *   <li>{@code /-/ready} (readiness): 200 once probes are attached and the loop runs, 503 before.</li>
 * </ul>
 *
 * Slow and malformed requests are bounded by the JDK server's own limits, set in
 * {@link #limitJdkServer()} before the first server is built. Bursts are bounded in two
 * steps: at most {@link #MAX_EXCHANGES} requests are in flight (the JDK server closes the
 * connection of one more, without an answer), each on a virtual thread so that a slow client
 * holds no thread a scrape needs; and at most {@link #MAX_SCRAPES} of them render
 * {@code /metrics} at once, the rest get 503 with {@code Retry-After} at once. A scrape reads
 * every map and builds the whole exposition in the heap; five hundred of them at once on the
 * daemon's 64 MiB heap ran out of memory and starved the ring consumer. Nothing served here
 * writes state: the handlers only read.
 */
final class HttpSurface {
    static final String METRICS = "/metrics";
    static final String HEALTHY = "/-/healthy";
    static final String READY = "/-/ready";
    static final Set<String> PATHS = Set.of("/", METRICS, HEALTHY, READY);

    /**
     * Requests in flight, from the first byte read to the last byte written. Fifty slow clients
     * stuck mid-header (cut off after 5 to 10 s) still leave room for scrapes.
     */
    static final int MAX_EXCHANGES = 128;
    /**
     * Expositions rendered at once. One Prometheus scrapes a target at a time; two allow an HA
     * pair, and more would only compete with the ring consumer for this host's CPUs.
     */
    static final int MAX_SCRAPES = 2;

    private HttpSurface() {
    }

    /**
     * The server's executor: each request on a virtual thread of its own, at most
     * {@code max} at once. One more is rejected, and the JDK server's dispatcher then closes
     * its connection ({@code ServerImpl.Dispatcher.handle}): refused at once, nothing buffered.
     */
    static Executor exchanges(int max) {
        Semaphore inFlight = new Semaphore(max);
        ThreadFactory threads = Thread.ofVirtual().name("busprobe-http-", 0).factory();
        return exchange -> {
            if (!inFlight.tryAcquire()) {
                throw new RejectedExecutionException("more than " + max + " HTTP requests in flight");
            }
            try {
                threads.newThread(() -> {
                    try {
                        exchange.run();
                    } finally {
                        inFlight.release();
                    }
                }).start();
            } catch (RuntimeException | Error e) {
                inFlight.release();
                throw e;
            }
        };
    }

    /** {@code scrape} for at most {@code max} requests at once; 503 and {@code Retry-After: 1} for the rest. */
    static HttpHandler bounded(HttpHandler scrape, int max) {
        Semaphore rendering = new Semaphore(max);
        return exchange -> {
            if (!rendering.tryAcquire()) {
                try (exchange) {
                    exchange.getResponseHeaders().set("Retry-After", "1");
                    reply(exchange, 503, "busprobe: " + max + " scrapes are being answered; retry\n");
                }
                return;
            }
            try {
                scrape.handle(exchange);
            } finally {
                rendering.release();
            }
        };
    }

    /**
     * The JDK server closes a connection whose request line and headers take
     * longer than {@code maxReqTime} seconds (a slow-loris client), bounds the
     * header count and size, and drops idle keep-alive connections. These are
     * read once, when the server class initialises, so they are set first.
     *
     * <p>The server's {@code req-rsp-timeout-task} thread looks for such connections every
     * {@code timerMillis}; at its default of 1 s it was one of an idle daemon's ~15 wakeups a
     * second (bench/idle, BENCHMARKS.md). Every 5 s, a slow client is cut off after 5 to 10 s.
     */
    static void limitJdkServer() {
        setIfAbsent("sun.net.httpserver.maxReqTime", "5");
        setIfAbsent("sun.net.httpserver.maxRspTime", "30");
        setIfAbsent("sun.net.httpserver.timerMillis", "5000");
        setIfAbsent("sun.net.httpserver.maxReqHeaders", "64");
        setIfAbsent("sun.net.httpserver.maxReqHeaderSize", "16384");
        setIfAbsent("sun.net.httpserver.idleInterval", "30");
        setIfAbsent("sun.net.httpserver.maxIdleConnections", "16");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Runs before every handler: method and path checks. */
    static final class Filter extends Authenticator {
        @Override
        public Result authenticate(HttpExchange exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                return new Failure(405);
            }
            if (!PATHS.contains(exchange.getRequestURI().getRawPath())) {
                return new Failure(404);
            }
            return new Success(null);
        }
    }

    /** {@code /}, {@code /-/healthy} and {@code /-/ready}; {@code /metrics} has the client's own handler. */
    static HttpHandler probes(BooleanSupplier alive, BooleanSupplier ready) {
        return exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getRawPath();
                switch (path) {
                    case HEALTHY -> reply(exchange, alive.getAsBoolean(), "busprobe is alive\n",
                            "busprobe's consumer loop is stuck\n");
                    case READY -> reply(exchange, ready.getAsBoolean(), "busprobe is ready\n",
                            "busprobe is not ready: probes not attached yet\n");
                    default -> reply(exchange, 200, "busprobe: " + METRICS + " (Prometheus), " + HEALTHY
                            + " (liveness), " + READY + " (readiness)\n");
                }
            }
        };
    }

    /** One reading of the check decides both the status and the text. */
    private static void reply(HttpExchange exchange, boolean ok, String okText, String failText) throws IOException {
        reply(exchange, ok ? 200 : 503, ok ? okText : failText);
    }

    private static void reply(HttpExchange exchange, int status, String text) throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        boolean head = exchange.getRequestMethod().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
