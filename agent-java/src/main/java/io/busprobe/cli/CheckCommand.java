package io.busprobe.cli;

import io.busprobe.agent.Session;
import io.busprobe.bpf.ProbeStatus;
import io.busprobe.event.EventKind.Family;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.EnumSet;
import java.util.concurrent.Callable;

/** {@code busprobe check}: load and attach every program, report, detach, exit. */
@Command(name = "check",
        header = "Check that every probe loads and attaches, then exit",
        mixinStandardHelpOptions = true,
        versionProvider = BusprobeCommand.Version.class,
        description = "Load and attach every BPF program, print one line per probe, detach and exit: "
                + "0 when all attached, 1 naming what failed.",
        footer = {"", "EXAMPLES", "  busprobe check"})
public final class CheckCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int failed = 0;
        try (Session session = Session.start(EnumSet.allOf(Family.class), 1 << 16)) {
            for (ProbeStatus p : session.probes()) {
                out.println((p.attached() ? "ok    " : "FAIL  ") + p);
                if (!p.attached()) {
                    failed++;
                }
            }
        }
        out.println(failed == 0 ? "busprobe check: all probes attached" : "busprobe check: " + failed + " probe(s) not attached");
        out.flush();
        return failed == 0 ? 0 : BusprobeCommand.EXIT_FAILURE;
    }
}
