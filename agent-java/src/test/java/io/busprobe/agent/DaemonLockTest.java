package io.busprobe.agent;

import io.busprobe.maps.PinDir;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

import static org.assertj.core.api.Assertions.assertThat;

/** Reading the lock's holder from /proc/locks (the real lock is in LifecycleTest, which needs /run). */
class DaemonLockTest {
    private static final List<String> LOCKS = List.of(
            "1: POSIX  ADVISORY  WRITE 20158 fe:00:2147390 0 EOF",
            "1: -> POSIX  ADVISORY  WRITE 20999 fe:00:2147391 0 EOF",
            "2: FLOCK  ADVISORY  WRITE 4242 00:1a:77 0 EOF",
            "3: OFDLCK ADVISORY  READ  -1 00:1a:88 0 EOF");

    @Test
    void theHolderOfTheFilesInode() {
        assertThat(DaemonLock.holderIn(LOCKS, 0xfe, 0x00, 2147390)).isEqualTo(OptionalLong.of(20158));
        assertThat(DaemonLock.holderIn(LOCKS, 0x00, 0x1a, 77)).isEqualTo(OptionalLong.of(4242));
    }

    @Test
    void aWaiterIsNotAHolderAndAnotherDeviceIsAnotherFile() {
        assertThat(DaemonLock.holderIn(LOCKS, 0xfe, 0x00, 2147391)).isEmpty();
        assertThat(DaemonLock.holderIn(LOCKS, 0xfd, 0x00, 2147390)).isEmpty();
        assertThat(DaemonLock.holderIn(List.of("garbage", ""), 0, 0, 1)).isEmpty();
    }

    @Test
    void devNumbersSplitAsGlibcDoes() {
        long dev = 0xfe00; // st_dev of a device 254:0
        assertThat(DaemonLock.major(dev)).isEqualTo(254);
        assertThat(DaemonLock.minor(dev)).isZero();
        long major = 0x123045;
        long minor = 0x6789a;
        // glibc's makedev(3)
        long big = (major & 0xfff) << 8 | (major & ~0xfffL) << 32 | minor & 0xff | (minor & ~0xffL) << 12;
        assertThat(DaemonLock.major(big)).isEqualTo(major);
        assertThat(DaemonLock.minor(big)).isEqualTo(minor);
    }

    @Test
    void oneLockPerPinDirectory() {
        assertThat(DaemonLock.path(PinDir.DEFAULT)).isEqualTo(Path.of("/run/busprobe/daemon.lock"));
        assertThat(DaemonLock.path(Path.of("/sys/fs/bpf/x"))).isNotEqualTo(DaemonLock.path(Path.of("/sys/fs/bpf/y")));
        assertThat(DaemonLock.path(Path.of("/sys/fs/bpf/x")).getParent()).isEqualTo(Path.of("/run/busprobe"));
    }
}
