package io.busprobe.metrics;

import io.busprobe.bpf.Probe;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

import java.util.List;

/**
 * What each BPF program costs, from the kernel's own accounting
 * ({@code bpf_prog_info}), read once per program per scrape. Labelled by
 * {@code program} (the seven {@code handle_*} names of {@link Probe}: bounded).
 * A probe that is not attached exports {@code busprobe_probe_attached 0} and no
 * run counters.
 */
final class ProgramCounters implements MultiCollector {
    private final MetricsSource source;

    ProgramCounters(MetricsSource source) {
        this.source = source;
    }

    @Override
    public MetricSnapshots collect() {
        GaugeSnapshot.Builder attached = GaugeSnapshot.builder().name("busprobe_probe_attached")
                .help("1 when the probe's BPF program is attached to its tracepoint, 0 when it is not selected, "
                        + "its tracepoint is missing from this kernel, or attach failed.");
        CounterSnapshot.Builder runs = CounterSnapshot.builder().name("busprobe_bpf_program_runs")
                .help("Times the kernel ran the BPF program (bpf_prog_info.run_cnt; counts only while "
                        + "kernel.bpf_stats_enabled is on, which busprobe turns on while it runs).");
        CounterSnapshot.Builder runTime = CounterSnapshot.builder().name("busprobe_bpf_program_run_seconds")
                .unit(Unit.SECONDS)
                .help("CPU time spent in the BPF program (bpf_prog_info.run_time_ns), same condition as "
                        + "busprobe_bpf_program_runs_total.");
        CounterSnapshot.Builder misses = CounterSnapshot.builder().name("busprobe_bpf_program_recursion_misses")
                .help("Runs of the BPF program the kernel skipped because it was already running on that CPU "
                        + "(bpf_prog_info.recursion_misses): hits not recorded and not counted, except a "
                        + "retransmit's segments, which the connection's next retransmit adds.");
        for (Probe p : Probe.values()) {
            Labels l = Labels.of("program", p.program());
            ProgramRunStats s = source.attached(p) ? source.programStats(p) : null;
            attached.dataPoint(GaugeDataPointSnapshot.builder().labels(l).value(s != null ? 1 : 0).build());
            if (s != null) {
                runs.dataPoint(CounterDataPointSnapshot.builder().labels(l).value(s.runCount()).build());
                runTime.dataPoint(CounterDataPointSnapshot.builder().labels(l)
                        .value(Unit.nanosToSeconds(s.runTimeNs())).build());
                misses.dataPoint(CounterDataPointSnapshot.builder().labels(l).value(s.recursionMisses()).build());
            }
        }
        return MetricSnapshots.of(attached.build(), runs.build(), runTime.build(), misses.build());
    }

    @Override
    public List<String> getPrometheusNames() {
        return List.of("busprobe_probe_attached", "busprobe_bpf_program_runs", "busprobe_bpf_program_run_seconds",
                "busprobe_bpf_program_recursion_misses");
    }
}
