package io.busprobe.ffi;

import io.busprobe.bindings.Native;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the host must give busprobe, checked before the kernel is touched, each
 * failure a {@link HostProblem} naming the fix. The kernel would refuse later
 * anyway; checking first turns an {@code EPERM} from the middle of
 * {@code bpf_object__load} into one line, and leaves nothing half set up.
 */
public final class Preflight {
    /** capability(7) numbers. */
    static final int CAP_SYS_ADMIN = 21;
    static final int CAP_PERFMON = 38;
    static final int CAP_BPF = 39;

    /** The oldest libbpf whose API busprobe's bindings use (the 1.0 API, soname libbpf.so.1). */
    static final int LIBBPF_MIN_MAJOR = 1;
    static final int LIBBPF_MIN_MINOR = 0;

    static final Path VMLINUX_BTF = Path.of("/sys/kernel/btf/vmlinux");

    private Preflight() {
    }

    /** Everything a command that loads programs needs: privileges, kernel BTF, libbpf. */
    public static void loader() {
        privileges();
        btf();
        libbpf();
    }

    /**
     * CAP_BPF and CAP_PERFMON in the effective set (root has them): loading
     * tracing programs, reading kernel memory and opening the root-only pins
     * all need them.
     */
    public static void privileges() {
        long eff = effectiveCapabilities();
        String missing = (has(eff, CAP_BPF) ? "" : " CAP_BPF") + (has(eff, CAP_PERFMON) ? "" : " CAP_PERFMON");
        if (!missing.isEmpty()) {
            throw new HostProblem("needs root (CAP_BPF and CAP_PERFMON; missing:" + missing
                    + "): run it with sudo, or as the systemd unit in deploy/systemd");
        }
    }

    static boolean has(long capabilities, int cap) {
        return (capabilities >>> cap & 1) != 0;
    }

    /** CapEff of this process, from {@code /proc/self/status}. */
    static long effectiveCapabilities() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    return Long.parseUnsignedLong(line.substring(7).strip(), 16);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new HostProblem("cannot read CapEff from /proc/self/status: " + e.getMessage()
                    + "; is /proc mounted?", e);
        }
        throw new HostProblem("no CapEff in /proc/self/status; is /proc mounted?");
    }

    /** CO-RE relocates against the running kernel's BTF; without it nothing loads. */
    public static void btf() {
        if (!Files.isReadable(VMLINUX_BTF)) {
            throw new HostProblem("no kernel BTF at " + VMLINUX_BTF + ": busprobe needs Linux 5.12+ built with "
                    + "CONFIG_DEBUG_INFO_BTF=y (in a container, mount the host's /sys/kernel/btf)");
        }
    }

    /** libbpf.so.1 loads and is at least {@link #LIBBPF_MIN_MAJOR}.{@link #LIBBPF_MIN_MINOR}. */
    public static void libbpf() {
        int major;
        int minor;
        try {
            major = Native.libbpf_major_version();
            minor = Native.libbpf_minor_version();
        } catch (IllegalArgumentException | ExceptionInInitializerError | NoClassDefFoundError e) {
            throw new HostProblem("cannot load libbpf.so.1: install libbpf 1.0 or newer (apt-get install libbpf1)", e);
        }
        if (!atLeast(major, minor, LIBBPF_MIN_MAJOR, LIBBPF_MIN_MINOR)) {
            throw new HostProblem("libbpf " + major + "." + minor + " is too old: busprobe needs " + LIBBPF_MIN_MAJOR
                    + "." + LIBBPF_MIN_MINOR + " or newer (apt-get install libbpf1)");
        }
    }

    static boolean atLeast(int major, int minor, int wantMajor, int wantMinor) {
        return major > wantMajor || major == wantMajor && minor >= wantMinor;
    }
}
