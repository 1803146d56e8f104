/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ring wakeup decision, shared by bp_submit() (maps.bpf.h) and the
 * bench producer (bench/ringfill.bpf.c), so that bench/live-ring measures
 * the policy busprobe ships. BPF side only.
 */
#ifndef BUSPROBE_RING_BPF_H
#define BUSPROBE_RING_BPF_H

/*
 * Whether the record just reserved (which `avail`, the bytes pending, already
 * counts) takes the pending bytes across the watermark or one of its
 * multiples. Waking on every record above the watermark sent one
 * self-IPI per record (irq_work, a VM exit here) for as long as a stalled
 * consumer stayed behind: 17 % of the state program's time in one profile,
 * and 8.6x instead of 5.3x bpftrace's ns/event with records on and a fresh
 * daemon (BENCHMARKS.md, 2026-11-27 13:11 kernel cost).
 * Two CPUs reserving at once can both miss a crossing; the next multiple,
 * or the consumer's own poll timeout, still wakes it.
 */
static __always_inline bool bp_crosses_watermark(__u64 avail, __u64 watermark, __u64 record)
{
	if (avail < watermark)
		return false;
	return !watermark || avail % watermark < record;
}

#endif /* BUSPROBE_RING_BPF_H */
