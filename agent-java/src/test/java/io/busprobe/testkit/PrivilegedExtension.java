package io.busprobe.testkit;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.opentest4j.TestAbortedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Skip-or-fail gate for {@link Privileged} tests; see there. */
public final class PrivilegedExtension implements BeforeAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
        String missing = missingRequirement();
        if (missing == null) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError("privileged tests must run in CI but cannot: " + missing);
        }
        throw new TestAbortedException("skipped: " + missing);
    }

    static String missingRequirement() {
        if (!Files.isReadable(Path.of("/sys/kernel/btf/vmlinux"))) {
            return "kernel has no BTF (/sys/kernel/btf/vmlinux)";
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:") && !line.split("\\s+")[2].equals("0")) {
                    return "not running as root (effective uid " + line.split("\\s+")[2] + ")";
                }
            }
        } catch (IOException e) {
            return "cannot read /proc/self/status: " + e.getMessage();
        }
        return null;
    }
}
