/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cause of a retransmit: the drop family remembers, per TCP flow, the
 * last packet of the flow this host dropped as a loss; the retransmit family
 * looks its flow up when it writes a record. Kept in the kernel, keyed by
 * flow, bounded. BPF side only.
 */
#ifndef BUSPROBE_DROP_CAUSE_BPF_H
#define BUSPROBE_DROP_CAUSE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "events.h"

/*
 * A flow in the direction its data travels: saddr/sport the sender. A
 * dropped packet is keyed as it travelled, a retransmitting socket by its own
 * local -> remote tuple, so the two meet whichever namespace the drop was in.
 */
struct bp_flow_key {
	__u8  saddr[16];
	__u8  daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 _pad;
};

struct bp_flow_drop {
	__u64 ts_ns;  /* bpf_ktime_get_ns() of the drop */
	__u32 reason; /* enum skb_drop_reason */
	__u32 netns;  /* where it was dropped */
};

/*
 * LRU: a full table forgets the flows that dropped longest ago, which are the
 * least likely to be retransmitting now. 16k flows losing packets at once is
 * far beyond a bus host's; an evicted flow's retransmits read `unseen`.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct bp_flow_key);
	__type(value, struct bp_flow_drop);
} flow_drops SEC(".maps") __weak;

/* Which reason slots are losses: struct bp_drop_loss of events.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_drop_loss);
} drop_loss SEC(".maps") __weak;

static __always_inline void bp_flow_key_of(struct bp_flow_key *k, const struct bp_tuple *t)
{
	__builtin_memcpy(k->saddr, t->saddr, 16);
	__builtin_memcpy(k->daddr, t->daddr, 16);
	k->sport = t->sport;
	k->dport = t->dport;
	k->family = t->family;
}

#endif /* BUSPROBE_DROP_CAUSE_BPF_H */
