package io.busprobe.ffi;

import io.busprobe.bindings.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * libbpf at the one error convention busprobe uses: int functions return
 * {@code -errno} and go through {@link #check}; pointer functions return NULL
 * and set errno, which these wrappers capture and turn into a
 * {@link NativeException} naming the operation.
 *
 * <p>Everything else is called straight through jextract's {@link Native}.
 */
public final class Libbpf {
    private static final MethodHandle OPEN_MEM =
            Sys.withErrno(Native.bpf_object__open_mem$address(), Native.bpf_object__open_mem$descriptor());
    private static final MethodHandle PROGRAM_ATTACH =
            Sys.withErrno(Native.bpf_program__attach$address(), Native.bpf_program__attach$descriptor());
    private static final MethodHandle LOAD_VMLINUX_BTF =
            Sys.withErrno(Native.btf__load_vmlinux_btf$address(), Native.btf__load_vmlinux_btf$descriptor());

    private Libbpf() {
    }

    /** Throws if a libbpf int function returned {@code -errno}; returns rc otherwise. */
    public static int check(int rc, String operation) {
        if (rc < 0) {
            throw new NativeException(operation, -rc);
        }
        return rc;
    }

    public static MemorySegment openMem(MemorySegment objectBytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Sys.newErrnoState(arena);
            MemorySegment obj = (MemorySegment) OPEN_MEM.invokeExact(state, objectBytes, objectBytes.byteSize(),
                    MemorySegment.NULL);
            if (obj.equals(MemorySegment.NULL)) {
                throw new NativeException("bpf_object__open_mem", Sys.errno(state));
            }
            return obj;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Attach a program to its section's hook; returns the bpf_link. */
    public static MemorySegment attach(MemorySegment program, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Sys.newErrnoState(arena);
            MemorySegment link = (MemorySegment) PROGRAM_ATTACH.invokeExact(state, program);
            if (link.equals(MemorySegment.NULL)) {
                throw new NativeException("bpf_program__attach(" + name + ")", Sys.errno(state));
            }
            return link;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The running kernel's BTF; {@link NotSupportedException} when the kernel has none. */
    public static MemorySegment loadVmlinuxBtf() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = Sys.newErrnoState(arena);
            MemorySegment btf = (MemorySegment) LOAD_VMLINUX_BTF.invokeExact(state);
            if (btf.equals(MemorySegment.NULL)) {
                throw new NotSupportedException("btf__load_vmlinux_btf", Sys.errno(state),
                        "kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)");
            }
            return btf;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
