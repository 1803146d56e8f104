package io.busprobe.bpf;

import io.busprobe.ffi.Errno;
import io.busprobe.ffi.HostProblem;
import io.busprobe.ffi.NativeException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** What a failed object load tells the operator: the verifier's verdict is not a missing sudo. */
class LoadFailureTest {
    @Test
    void aVerifierRejectionNamesTheVerifierAndTheKernelNotRoot() {
        RuntimeException r = BusprobeObject.loadFailure(new NativeException("bpf_object__load", -Errno.EACCES), null);
        assertThat(r).isInstanceOf(HostProblem.class);
        assertThat(r.getMessage()).contains("verifier rejected", "verifier's log above", "report it")
                .doesNotContain("sudo", "needs root").doesNotContain("\n");
    }

    @Test
    void aPinnedConfigThatDoesNotFitAsksForAReset() {
        RuntimeException r = BusprobeObject.loadFailure(new NativeException("bpf_object__load", -22 /* EINVAL */),
                Path.of("/sys/fs/bpf/x"));
        assertThat(r).isInstanceOf(IllegalStateException.class);
        assertThat(r.getMessage()).contains("/sys/fs/bpf/x", "--reset-config");
    }

    @Test
    void anythingElseIsTheLibbpfErrorWithItsHint() {
        NativeException e = new NativeException("bpf_object__load", -Errno.ENOMEM);
        assertThat(BusprobeObject.loadFailure(e, null)).isSameAs(e);
        assertThat(e.getMessage()).contains("RLIMIT_MEMLOCK");
    }
}
