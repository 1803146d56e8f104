/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps shared by every busprobe probe family, and the emit path that all of
 * them go through. Each family's .bpf.c includes this header; the objects are
 * linked into one busprobe.bpf.o by `bpftool gen object`, and the __weak
 * definitions below collapse into a single map of each name there.
 */
#ifndef BUSPROBE_MAPS_BPF_H
#define BUSPROBE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"

/*
 * One ring for all families. 8 MiB holds ~70k records of 120 bytes, about
 * 0.3 s of a 200k events/s storm; the agent resizes it before load
 * (bpf_map__set_max_entries) from --ring-size.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} rb SEC(".maps") __weak;

/* Exact counters: tier 1, never sampled. Key: enum bp_kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_KIND_MAX);
	__type(key, __u32);
	__type(value, struct bp_kind_stats);
} kind_stats SEC(".maps") __weak;

/*
 * Sampling control: tier 2 gate. Not named `config`: vmlinux.h has a
 * typedef of that name on some kernels. Key: enum bp_kind.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_KIND_MAX);
	__type(key, __u32);
	__type(value, struct bp_sample_cfg);
} sampling SEC(".maps") __weak;

/* 1-in-N position per kind, per CPU so that the hot path never contends. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_KIND_MAX);
	__type(key, __u32);
	__type(value, __u32);
} sample_pos SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_settings);
} settings SEC(".maps") __weak;

/*
 * Count the hit and decide whether a record should be emitted. Returns the
 * stats slot to finish accounting with bp_submit(), or NULL when the record
 * is not wanted (already counted as sampled out).
 */
static __always_inline struct bp_kind_stats *bp_account(__u32 kind)
{
	struct bp_kind_stats *st;
	struct bp_sample_cfg *cfg;
	__u32 *pos;

	st = bpf_map_lookup_elem(&kind_stats, &kind);
	if (!st)
		return NULL;
	/*
	 * Atomic although per-CPU: a softirq can interrupt a program running in
	 * process context on the same CPU, and exact means exact.
	 */
	__sync_fetch_and_add(&st->seen, 1);

	cfg = bpf_map_lookup_elem(&sampling, &kind);
	if (!cfg || !cfg->enabled) {
		__sync_fetch_and_add(&st->sampled_out, 1);
		return NULL;
	}
	if (cfg->every > 1) {
		pos = bpf_map_lookup_elem(&sample_pos, &kind);
		if (pos && ++*pos < cfg->every) {
			__sync_fetch_and_add(&st->sampled_out, 1);
			return NULL;
		}
		if (pos)
			*pos = 0;
	}
	return st;
}

/*
 * Reserve a record, or count the drop. Never blocks: a full ring costs an
 * exemplar, never a counter.
 */
static __always_inline struct bp_event *bp_reserve(struct bp_kind_stats *st)
{
	struct bp_event *e;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&st->dropped, 1);
	return e;
}

/*
 * Commit a record. The default ringbuf submit wakes a caught-up consumer on
 * every record, which was measured to slow the producer 3-20x; instead wake
 * only once `wakeup_watermark` bytes are pending and let the agent's bounded
 * poll timeout pick up anything below that.
 */
static __always_inline void bp_submit(struct bp_kind_stats *st, struct bp_event *e)
{
	struct bp_settings *s;
	__u32 zero = 0;
	__u64 flags = BPF_RB_NO_WAKEUP;

	s = bpf_map_lookup_elem(&settings, &zero);
	if (s) {
		if (s->wakeup_policy == BP_WAKEUP_ALWAYS)
			flags = 0;
		else if (s->wakeup_policy == BP_WAKEUP_WATERMARK &&
			 bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= s->wakeup_watermark)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
	__sync_fetch_and_add(&st->submitted, 1);
}

#endif /* BUSPROBE_MAPS_BPF_H */
