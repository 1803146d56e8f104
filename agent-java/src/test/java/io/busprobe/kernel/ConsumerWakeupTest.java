package io.busprobe.kernel;

import io.busprobe.agent.Session;
import io.busprobe.event.EventKind.Family;
import io.busprobe.maps.Settings;
import io.busprobe.testkit.Privileged;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.EnumSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The idle consumer's long wait (the daemon's {@code IDLE_WAIT_MS}) ends on what must end it:
 * {@link Session#wakeup} from another thread, and the kernel's wakeup on the first record after
 * the ring went empty. The wait here is ten minutes, so a consumer that missed either would
 * still be waiting when the bounded joins below give up.
 */
@Privileged
class ConsumerWakeupTest {
    private static final int TEN_MINUTES_MS = 600_000;

    private Session session;
    private Thread consumer;
    private volatile boolean stop;
    private volatile Throwable failure;
    private final AtomicLong read = new AtomicLong();
    /** Counted down at the first drain that found nothing: the consumer is about to wait. */
    private final CountDownLatch idle = new CountDownLatch(1);

    @BeforeEach
    void setUp() {
        session = Session.start(EnumSet.of(Family.STATE, Family.RESET), 1 << 20);
        consumer = Thread.ofPlatform().name("test-idle-consumer").start(() -> {
            try {
                session.consume(() -> stop, Long.MAX_VALUE, Session.DEFAULT_POLL_MS, TEN_MINUTES_MS,
                        (data, offset, length) -> read.incrementAndGet(), (records, now) -> {
                            if (records == 0) {
                                idle.countDown();
                            }
                        });
            } catch (Throwable t) {
                failure = t;
            }
        });
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        stop = true;
        session.wakeup();
        consumer.join(60_000);
        session.close();
    }

    @Test
    void wakeupEndsTheIdleWait() throws Exception {
        assertThat(idle.await(60, TimeUnit.SECONDS)).as("the consumer drained the ring and went idle").isTrue();
        // no record from now on: the host's other TCP traffic must not be what ends the wait
        Settings s = session.bpf().control().settings();
        session.bpf().control().settings(new Settings(false, s.wakeup(), s.watermark(), s.watermarkSet()));
        Thread.sleep(1_000); // records written before are drained, and the consumer waits again
        assertThat(consumer.isAlive()).isTrue();
        stop = true;
        session.wakeup();
        consumer.join(60_000);
        assertThat(consumer.isAlive()).as("the consumer still waits after stop and wakeup()").isFalse();
        assertThat(failure).isNull();
    }

    @Test
    void theFirstRecordAfterTheRingWentEmptyEndsTheIdleWait() throws Exception {
        assertThat(idle.await(60, TimeUnit.SECONDS)).as("the consumer drained the ring and went idle").isTrue();
        long before = read.get();
        // a loopback connection and its close: state records (other processes' TCP may come first;
        // either way a record, not a timeout, ends the wait)
        try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             Socket client = new Socket()) {
            client.connect(new InetSocketAddress(server.getInetAddress(), server.getLocalPort()), 5_000);
            server.accept().close();
        } catch (IOException e) {
            throw new AssertionError("loopback connection failed", e);
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (read.get() == before && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertThat(read.get()).as("records read after a loopback connection, the consumer waiting 10 min")
                .isGreaterThan(before);
        assertThat(failure).isNull();
    }
}
