package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.busprobe.event.EventKind;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Info;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.Properties;

/**
 * Prometheus metrics of a running agent, served on {@code http://HOST:PORT/metrics}
 * by the Prometheus Java client's HTTP server (text format, or OpenMetrics when
 * the scraper asks for it).
 *
 * <p>Kernel counters and program statistics are read from the maps and from
 * {@code bpf_prog_info} when Prometheus scrapes ({@link KernelCounters},
 * {@link ProgramCounters}, {@link EndpointCounters}, callback gauges for the
 * ring); nothing is mirrored per event. The one thing Java measures per event
 * is the kernel-to-Java delivery latency, in {@link #onEvent}, into a histogram
 * that does not allocate ({@link DeliveryLatency}).
 *
 * {@snippet :
 * try (AgentMetrics metrics = AgentMetrics.listen("0.0.0.0:19477")) {
 *     metrics.attach(source, TopicCounters.DEFAULT_TOP); // a MetricsSource: the agent's over its session
 *     EventView view = new EventView();
 *     ring.consume((data, off, len) -> metrics.onEvent(view.wrap(data, off).tsNanos()));
 * }
 * }
 */
public final class AgentMetrics implements AutoCloseable {
    /**
     * Default listen address of {@code busprobe run --metrics-address}. 19477 is
     * outside 9100-9999, the range of the Prometheus default port allocations,
     * which is full, so no well-known exporter uses it; it is also below the
     * Linux ephemeral range (32768-60999) and the Kubernetes NodePort range
     * (30000-32767), and unassigned in /etc/services.
     */
    public static final String DEFAULT_ADDRESS = "0.0.0.0:19477";

    /**
     * Delivery-latency buckets, seconds: 1, 1.5, 2, 3, 5, 7 per decade from 10 µs to
     * 10 s. The consumer's 2 ms poll bounds latency when the ring is quiet, so the
     * steps are finest where p50 and p99 usually fall.
     */
    static final double[] LATENCY_BUCKETS = latencyBuckets();

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final HttpServer server;
    /** Connections the kernel queues before the dispatcher accepts them (the client's builder used 3). */
    private static final int BACKLOG = 64;
    private volatile MetricsSource source;
    private int topicTop = TopicCounters.DEFAULT_TOP;
    private volatile BpfRunStats bpfStats;
    private final DeliveryLatency deliveryLatency = new DeliveryLatency(LATENCY_BUCKETS);
    private volatile DegradationView degradation;
    /** Consumer-loop heartbeat, {@code System.nanoTime()}; 0 until the loop runs. */
    private volatile long heartbeatNanos;
    /** How long the consumer loop may go without a heartbeat before /-/healthy fails. */
    static final long STUCK_NANOS = 30_000_000_000L;

    private AgentMetrics(ListenAddress address) {
        registerBuildAndJvm();
        HttpSurface.limitJdkServer();
        try {
            // the JDK server with the client's exposition handler, rather than the client's
            // HTTPServer, whose builder has no way to bound the handler (HttpSurface.bounded)
            server = HttpServer.create(new InetSocketAddress(address.host(), address.port()), BACKLOG);
            HttpSurface.Filter filter = new HttpSurface.Filter();
            server.createContext("/", HttpSurface.probes(this::alive, this::ready)).setAuthenticator(filter);
            server.createContext(HttpSurface.METRICS, HttpSurface.bounded(new MetricsHandler(registry),
                    HttpSurface.MAX_SCRAPES)).setAuthenticator(filter);
            server.setExecutor(HttpSurface.exchanges(HttpSurface.MAX_EXCHANGES));
            server.start();
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("cannot serve metrics on " + address + ": " + e.getMessage()
                    + "; choose another address with --metrics-address HOST:PORT", e);
        }
    }

    /**
     * Bind the HTTP port first, before the kernel is touched: a busy port is then
     * a one-line error with nothing loaded. Until {@link #attach(MetricsSource, int)} the
     * server answers {@code /-/ready} with 503 and serves build and JVM metrics.
     */
    public static AgentMetrics listen(String hostPort) {
        return new AgentMetrics(ListenAddress.parse(hostPort));
    }

    /**
     * Register the collectors that read {@code source} at scrape time, and turn on BPF run statistics;
     * per endpoint the {@code topicTop} worst topics get series of their own ({@code run --topic-top}).
     */
    public AgentMetrics attach(MetricsSource source, int topicTop) {
        this.topicTop = topicTop;
        return attach(source, true, new PrintWriter(System.err, true));
    }

    AgentMetrics attach(MetricsSource s, boolean kernelStats, PrintWriter log) {
        if (source != null) {
            throw new IllegalStateException("metrics already attached");
        }
        bpfStats = kernelStats ? BpfRunStats.enable(log) : null;
        source = s;
        registerKernelAndRing();
        registerDegradation();
        registry.register(deliveryLatency);
        return this;
    }

    /** The consumer loop is alive; called on every loop turn (a volatile write). */
    public void heartbeat(long nanos) {
        heartbeatNanos = nanos;
    }

    /** Liveness: starting up, or the loop beat within {@link #STUCK_NANOS}. */
    boolean alive() {
        long beat = heartbeatNanos;
        return beat == 0 || System.nanoTime() - beat < STUCK_NANOS;
    }

    /** Readiness: collectors attached, at least one probe attached, the loop running and not stuck. */
    boolean ready() {
        MetricsSource s = source;
        if (s == null || heartbeatNanos == 0 || !alive()) {
            return false;
        }
        for (Probe p : Probe.values()) {
            if (s.attached(p)) {
                return true;
            }
        }
        return false;
    }

    /** The port the server listens on (the kernel's pick when started with port 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /**
     * Per-event hook on the consumer thread: records the delivery latency of one
     * record. Allocation-free (see {@link DeliveryLatency}).
     */
    public void onEvent(long kernelTsNanos) {
        deliveryLatency.record(System.nanoTime() - kernelTsNanos);
    }

    /** Plug in the automatic-degradation state; read at each scrape from then on. */
    public void degradation(DegradationView v) {
        degradation = v;
    }

    private void registerKernelAndRing() {
        registry.register(new KernelCounters(source));
        registry.register(new ProgramCounters(source));
        registry.register(new EndpointCounters(source));
        registry.register(new DropCounters(source));
        registry.register(new TopicCounters(source, topicTop));
        registry.register(new TopicReceiveGauges(source, topicTop));
        GaugeWithCallback.builder().name("busprobe_ring_size_bytes").unit(Unit.BYTES)
                .help("Data size of the BPF ring buffer (--ring-size).")
                .callback(cb -> cb.call(source.ringSizeBytes())).register(registry);
        GaugeWithCallback.builder().name("busprobe_ring_pending_bytes").unit(Unit.BYTES)
                .help("Bytes the kernel has written to the ring that the agent has not consumed yet.")
                .callback(cb -> cb.call(source.ringPendingBytes())).register(registry);
        GaugeWithCallback.builder().name("busprobe_socket_table_size")
                .help("Entries of the socket table that keeps each TCP socket's owner and endpoint match "
                        + "(--socket-table-size).")
                .callback(cb -> cb.call(source.socketTableSize())).register(registry);
        CounterWithCallback.builder().name("busprobe_socket_table_evictions")
                .help("Established connections whose socket-table entry was evicted because the table was full, "
                        + "counted by the kernel at the socket's next event. Counters stay exact; the socket loses "
                        + "its owner. Raise --socket-table-size when this moves.")
                .callback(cb -> cb.call(source.socketTableEvictions())).register(registry);
        CounterWithCallback.builder().name("busprobe_records_read")
                .help("Event records the agent consumed from the ring buffer.")
                .callback(cb -> cb.call(source.recordsRead())).register(registry);
        CounterWithCallback.builder().name("busprobe_records_discarded")
                .help("Ring records the kernel reserved and then discarded (skipped by the reader).")
                .callback(cb -> cb.call(source.recordsDiscarded())).register(registry);
        GaugeWithCallback.builder().name("busprobe_netns_unreachable")
                .help("Network namespaces with processes in them that the last endpoint traffic refresh could "
                        + "not enter for want of a capability (the log names it); their sockets' bytes and "
                        + "segments reach the endpoint counters only at retransmit and close. 0 when every "
                        + "namespace was counted.")
                .callback(cb -> cb.call(source.netnsUnreachable())).register(registry);
        GaugeWithCallback.builder().name("busprobe_bpf_stats_enabled")
                .help("1 while busprobe keeps the kernel's BPF program run statistics on "
                        + "(kernel.bpf_stats_enabled, or BPF_ENABLE_STATS where /proc/sys is read-only); "
                        + "busprobe_bpf_program_run* only move while it is 1.")
                .callback(cb -> cb.call(bpfStats != null && bpfStats.enabled() ? 1 : 0)).register(registry);
    }

    private void registerDegradation() {
        GaugeWithCallback.builder().name("busprobe_degradation_active")
                .help("1 while the agent has lowered ring sampling on its own because the ring buffer was "
                        + "under pressure; exact counters are unaffected.")
                .callback(cb -> {
                    DegradationView v = degradation;
                    cb.call(v != null && v.active() ? 1 : 0);
                }).register(registry);
        GaugeWithCallback.builder().name("busprobe_sampling_ratio").unit(Unit.RATIO)
                .help("Fraction of a kind's hits that tier 2 may write to the ring: 1/N of the effective "
                        + "1-in-N (the operator's or the automatic setting, whichever is stricter), 0 when the kind "
                        + "is off, emit is off or its probe is not attached; the rate limit is not in it. Read "
                        + "from the sampling maps at each scrape. Counters are exact whatever this is.")
                .labelNames("kind")
                .callback(cb -> {
                    for (EventKind k : EventKind.values()) {
                        cb.call(source.sampling(k).ratio(), k.label());
                    }
                }).register(registry);
    }

    private void registerBuildAndJvm() {
        Info build = Info.builder().name("busprobe_build_info")
                .help("busprobe build and runtime: version of the agent and of the JVM running it.")
                .labelNames("version", "java_version").register(registry);
        build.setLabelValues(version(), Runtime.version().toString());
        JvmMetrics.builder().register(registry);
    }

    private static String version() {
        Properties p = new Properties();
        try (InputStream in = AgentMetrics.class.getResourceAsStream("/io/busprobe/version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            return "unknown";
        }
        return p.getProperty("version", "unknown");
    }

    private static double[] latencyBuckets() {
        String[] steps = {"1", "1.5", "2", "3", "5", "7"};
        double[] b = new double[6 * steps.length + 1];
        int i = 0;
        for (int exp = -5; exp <= 0; exp++) {
            for (String s : steps) {
                // parsed from decimal text so that le="0.0015", not 0.0015000000000000002
                b[i++] = Double.parseDouble(s + "e" + exp);
            }
        }
        b[i] = 10;
        return b;
    }

    /** Stop serving, then give back the kernel statistics setting. Idempotent. */
    @Override
    public void close() {
        try {
            server.stop(0);
        } finally {
            if (bpfStats != null) {
                bpfStats.close();
            }
        }
    }
}
