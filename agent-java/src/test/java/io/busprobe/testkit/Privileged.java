package io.busprobe.testkit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test that needs root and the real kernel. Selected with
 * {@code -Dgroups=privileged}; skipped with a reason when not root or the
 * kernel lacks BTF, except under {@code CI=true}, where such a skip fails.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("privileged")
@ExtendWith(PrivilegedExtension.class)
public @interface Privileged {
}
