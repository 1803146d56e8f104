package io.busprobe.ffi;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The pure parts of the host checks; the checks themselves run for real in
 * kernel.LifecycleTest (as nobody, without BTF, without libbpf, without bpffs).
 */
class PreflightTest {
    @Test
    void libbpfVersionsCompareByMajorThenMinor() {
        assertThat(Preflight.atLeast(1, 0, 1, 0)).isTrue();
        assertThat(Preflight.atLeast(1, 5, 1, 0)).isTrue();
        assertThat(Preflight.atLeast(2, 0, 1, 9)).isTrue();
        assertThat(Preflight.atLeast(0, 8, 1, 0)).as("0.8, the libbpf.so.0 era").isFalse();
        assertThat(Preflight.atLeast(1, 1, 1, 2)).isFalse();
    }

    @Test
    void capabilitiesAreBitsOfCapEff() {
        long rootOn618 = 0x000001ffffffffffL;
        assertThat(Preflight.has(rootOn618, Preflight.CAP_BPF)).isTrue();
        assertThat(Preflight.has(rootOn618, Preflight.CAP_PERFMON)).isTrue();
        long bpfOnly = 1L << Preflight.CAP_BPF;
        assertThat(Preflight.has(bpfOnly, Preflight.CAP_BPF)).isTrue();
        assertThat(Preflight.has(bpfOnly, Preflight.CAP_PERFMON)).isFalse();
        assertThat(Preflight.has(0, Preflight.CAP_SYS_ADMIN)).isFalse();
    }

    @Test
    void thisProcessHasACapabilitySet() {
        // /proc/self/status is readable for every user; the value depends on who runs the tests
        assertThat(Preflight.effectiveCapabilities()).isNotNegative();
    }
}
