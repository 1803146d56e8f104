// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bench-only producer for the ring-drain benchmark (bench/run). Not part of
 * busprobe.bpf.o.
 *
 * Every getppid() of the target process commits one struct bp_event (the
 * real 120-byte wire record, 128 bytes in the ring with its header) to its
 * own ring, without waking anyone. The bench fills the ring with N records
 * while no consumer runs, then times one drain of it by the consumer under
 * test. ts_ns carries a sequence number so that each consumer's checksum
 * proves it saw every record exactly once.
 *
 * bench/live-ring reuses it with a consumer running: `wakeup` then emulates
 * the agent's ring wakeup policies (bp_submit() in bpf/maps.bpf.h) on the
 * same submit path, so the producer pays what busprobe's producer pays.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"
#include "ring.bpf.h"

/* 256 MiB: room for 2,097,151 records of 128 bytes. Resizable before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 20);
} bench_rb SEC(".maps");

/* Wakeup policies, as enum bp_wakeup in bpf/events.h but with 0 = never so
 * that a zeroed state keeps the ring-drain bench's behaviour. */
#define BENCH_WAKEUP_NEVER     0 /* BPF_RB_NO_WAKEUP: the consumer polls on its timer */
#define BENCH_WAKEUP_ALWAYS    1 /* flags 0: kernel default, wake a caught-up consumer */
#define BENCH_WAKEUP_WATERMARK 2 /* flags 0, and a forced wakeup as pending bytes cross the watermark */

struct bench_state {
	__u32 tgid;      /* set by user space after load: only this process fills */
	__u32 wakeup;    /* BENCH_WAKEUP_* */
	__u64 seq;       /* next sequence number, written into ts_ns */
	__u64 dropped;   /* reserve failures: ring full */
	__u64 watermark; /* bytes pending before a forced wakeup (WATERMARK) */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_state);
} bench_state SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int bench_fill(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct bench_state *st;
	struct bp_event *e;
	__u64 flags = BPF_RB_NO_WAKEUP;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&bench_state, &zero);
	if (!st || st->tgid != (__u32)(id >> 32))
		return 0;
	e = bpf_ringbuf_reserve(&bench_rb, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&st->dropped, 1);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = __sync_fetch_and_add(&st->seq, 1);
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->kind = BP_KIND_RETRANSMIT;
	e->flags = BP_F_TASK_VALID;
	e->u.retransmit.segs = 1;
	/* the same decision as bp_submit(), one map value already in hand */
	if (st->wakeup == BENCH_WAKEUP_ALWAYS)
		flags = 0;
	else if (st->wakeup == BENCH_WAKEUP_WATERMARK)
		flags = bp_crosses_watermark(bpf_ringbuf_query(&bench_rb, BPF_RB_AVAIL_DATA), st->watermark,
					     sizeof(*e) + BPF_RINGBUF_HDR_SZ) ? BPF_RB_FORCE_WAKEUP : 0;
	bpf_ringbuf_submit(e, flags);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
