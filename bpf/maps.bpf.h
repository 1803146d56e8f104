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
#include "ring.bpf.h"

/*
 * One ring for all families. A record takes 160 bytes (BP_EVENT_SIZE 152 plus
 * the ring's 8-byte header, BPF_RINGBUF_HDR_SZ), so 8 MiB holds about 52k of
 * them, about 0.26 s of a 200k events/s storm; the agent resizes it before
 * load (bpf_map__set_max_entries) from --ring-size.
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

/* The daemon's automatic setting; see struct bp_sample_cfg. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_KIND_MAX);
	__type(key, __u32);
	__type(value, struct bp_sample_cfg);
} sampling_auto SEC(".maps") __weak;

/* Token buckets, shared by all CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_KIND_MAX);
	__type(key, __u32);
	__type(value, struct bp_sample_state);
} sample_state SEC(".maps") __weak;

/* Published by the daemon for `busprobe status`; never touched by BPF code. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_agent_state);
} agent_state SEC(".maps") __weak;

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

static __always_inline __u32 max_u32(__u32 a, __u32 b)
{
	return a > b ? a : b;
}

static __always_inline __u64 max_u64(__u64 a, __u64 b)
{
	return a > b ? a : b;
}

/*
 * Generic cell rate algorithm: a record may go out when the theoretical
 * arrival time is no more than burst intervals ahead of now. The state is
 * shared by all CPUs and updated without a lock: two CPUs racing may both
 * pass, so the limit can be exceeded by one record per CPU, never more, and
 * every decision is still counted exactly.
 */
static __always_inline bool bp_rate_allows(__u32 kind, __u64 interval_ns, __u32 burst)
{
	struct bp_sample_state *st;
	__u64 now, tat, tau;

	st = bpf_map_lookup_elem(&sample_state, &kind);
	if (!st)
		return true;
	now = bpf_ktime_get_ns();
	tau = interval_ns * (burst ? burst : 1);
	tat = st->tat_ns;
	if (tat < now)
		tat = now;
	/*
	 * After an admission tat is at most now + tau. More can only be left over
	 * from a lower rate or a bigger burst set earlier: never make the current
	 * setting wait longer than its own bucket would.
	 */
	if (tat - now > tau) {
		tat = now + tau;
		st->tat_ns = tat;
	}
	/* GCRA: admit while the bucket has room for one more interval */
	if (tat - now > tau - interval_ns)
		return false;
	st->tat_ns = tat + interval_ns;
	return true;
}

/*
 * Count the hit and decide whether a record should be emitted (tier 2).
 * Returns the stats slot to finish accounting with bp_reserve()/bp_submit(),
 * or NULL when no record is wanted; the hit is then already counted as
 * sampled out or rate limited. Either way, seen is incremented exactly once:
 * seen = sampled_out + rate_limited + submitted + dropped.
 *
 * The agent computes what this lets through in one place, EffectiveSampling
 * (agent-java, package maps), for `busprobe sample`, `status` and the
 * busprobe_sampling_ratio metric: a change to the rule here changes it there.
 */
static __always_inline struct bp_kind_stats *bp_account(__u32 kind)
{
	struct bp_sample_cfg *cfg, *autocfg;
	struct bp_kind_stats *st;
	struct bp_settings *set;
	__u32 zero = 0, every;
	__u64 interval;
	__u32 *pos;

	st = bpf_map_lookup_elem(&kind_stats, &kind);
	if (!st)
		return NULL;
	/*
	 * Atomic although per-CPU: a softirq can interrupt a program running in
	 * process context on the same CPU, and exact means exact.
	 */
	__sync_fetch_and_add(&st->seen, 1);

	set = bpf_map_lookup_elem(&settings, &zero);
	cfg = bpf_map_lookup_elem(&sampling, &kind);
	if (!cfg || !cfg->enabled || (set && !set->emit))
		goto sampled_out;

	every = cfg->every;
	interval = cfg->interval_ns;
	autocfg = bpf_map_lookup_elem(&sampling_auto, &kind);
	if (autocfg && !(cfg->flags & BP_SAMPLE_NO_AUTO)) {
		every = max_u32(every, autocfg->every);
		interval = max_u64(interval, autocfg->interval_ns);
	}
	if (every > 1) {
		pos = bpf_map_lookup_elem(&sample_pos, &kind);
		if (pos && ++*pos < every)
			goto sampled_out;
		if (pos)
			*pos = 0;
	}
	if (interval && !bp_rate_allows(kind, interval, cfg->burst)) {
		__sync_fetch_and_add(&st->rate_limited, 1);
		return NULL;
	}
	return st;

sampled_out:
	__sync_fetch_and_add(&st->sampled_out, 1);
	return NULL;
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
 * Commit a record. Flags 0 is the kernel's adaptive wakeup: it wakes the
 * consumer only when this record is the first after the consumer caught up
 * (consumer_pos == the record's position), which is how an idle agent that
 * waits in epoll learns of the first record without polling. While records
 * flow the agent gathers them for its poll interval without draining, so a
 * busy ring costs one wakeup per interval. On top of that, force a wakeup as
 * the pending bytes cross each multiple of `wakeup_watermark`, so that a
 * long poll interval cannot let the ring fill. BPF_RB_NO_WAKEUP (the `never`
 * policy) would leave the agent to find every record by polling.
 */
static __always_inline void bp_submit(struct bp_kind_stats *st, struct bp_event *e)
{
	struct bp_settings *s;
	__u32 zero = 0;
	__u64 flags = 0;

	s = bpf_map_lookup_elem(&settings, &zero);
	if (s) {
		if (s->wakeup_policy == BP_WAKEUP_NEVER)
			flags = BPF_RB_NO_WAKEUP;
		else if (s->wakeup_policy == BP_WAKEUP_WATERMARK &&
			 bp_crosses_watermark(bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA), s->wakeup_watermark,
					      sizeof(*e) + BPF_RINGBUF_HDR_SZ))
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
	__sync_fetch_and_add(&st->submitted, 1);
}

#endif /* BUSPROBE_MAPS_BPF_H */
