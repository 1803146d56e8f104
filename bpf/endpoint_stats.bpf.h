/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Exact per-endpoint counters (connections, traffic, retransmits, resets,
 * pressure) and the bounded worst-offender tables. BPF side only.
 */
#ifndef BUSPROBE_ENDPOINT_STATS_BPF_H
#define BUSPROBE_ENDPOINT_STATS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "sock_info.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_MAX_ENDPOINTS * BP_DIRS);
	__type(key, __u32);
	__type(value, struct bp_endpoint_stats);
} endpoint_stats SEC(".maps") __weak;

/* Bounded worst-offender tables; LRU so that old offenders age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct bp_proc_key);
	__type(value, struct bp_proc_stats);
} endpoint_procs SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct bp_peer_key);
	__type(value, struct bp_peer_stats);
} endpoint_peers SEC(".maps") __weak;

static __always_inline struct bp_endpoint_stats *bp_endpoint_stats(const struct bp_attr *a)
{
	__u32 idx = (__u32)a->endpoint * BP_DIRS + a->direction;

	if (!BP_ATTRIBUTION)
		return NULL;
	return bpf_map_lookup_elem(&endpoint_stats, &idx);
}

/*
 * Add what the socket's own counters gained since last time to the endpoint:
 * called at retransmits, at close and once a second by the traffic refresh,
 * so the retransmit ratio's denominator is current whenever its numerator
 * moves. What was added is kept in the socket's base (never evicted), so a
 * socket is counted once however often the socket table evicts it; a socket
 * without a base has had nothing added, and is counted whole.
 */
static __always_inline void bp_add_traffic(struct bp_endpoint_stats *es, const struct sock *sk,
					   struct bp_sock_base *base)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);
	__u64 sent, received;
	__u32 out, in;

	if (!tp)
		return;
	sent = tp->bytes_sent;
	received = tp->bytes_received;
	out = tp->segs_out;
	in = tp->segs_in;

	if (base) {
		/*
		 * The socket's counters only grow while it is connected, and the
		 * base is reset at TCP_CLOSE, before tcp_disconnect() zeroes them
		 * for a reconnect; a smaller value would be a bug: take it as the
		 * new baseline rather than wrap.
		 */
		if (sent >= base->bytes_sent_rep && received >= base->bytes_received_rep &&
		    out >= base->segs_out_rep && in >= base->segs_in_rep) {
			__sync_fetch_and_add(&es->bytes_sent, sent - base->bytes_sent_rep);
			__sync_fetch_and_add(&es->bytes_received, received - base->bytes_received_rep);
			__sync_fetch_and_add(&es->segs_out, out - base->segs_out_rep);
			__sync_fetch_and_add(&es->segs_in, in - base->segs_in_rep);
		}
		base->bytes_sent_rep = sent;
		base->bytes_received_rep = received;
		base->segs_out_rep = out;
		base->segs_in_rep = in;
	} else {
		/* nothing of it counted before its close: count its whole life once */
		__sync_fetch_and_add(&es->bytes_sent, sent);
		__sync_fetch_and_add(&es->bytes_received, received);
		__sync_fetch_and_add(&es->segs_out, out);
		__sync_fetch_and_add(&es->segs_in, in);
	}
}

/* Charge a retransmit or reset to the socket's owner and peer in the worst-offender tables. */
static __always_inline void bp_charge_offenders(const struct bp_attr *a, const struct bp_tuple *t,
						__u64 retrans_segs, __u64 resets)
{
	struct bp_proc_key pk = {.endpoint = a->endpoint, .direction = a->direction};
	struct bp_peer_key rk = {.endpoint = a->endpoint, .direction = a->direction};
	struct bp_proc_stats *ps, pfresh = {};
	struct bp_peer_stats *rs, rfresh = {};

	if (!BP_ATTRIBUTION)
		return;
	if (a->info && a->info->owner_known) {
		pk.tgid = a->info->tgid;
		ps = bpf_map_lookup_elem(&endpoint_procs, &pk);
		if (!ps) {
			__builtin_memcpy(pfresh.comm, a->info->comm, sizeof(pfresh.comm));
			bpf_map_update_elem(&endpoint_procs, &pk, &pfresh, BPF_NOEXIST);
			ps = bpf_map_lookup_elem(&endpoint_procs, &pk);
		}
		if (ps) {
			__sync_fetch_and_add(&ps->retrans_segs, retrans_segs);
			__sync_fetch_and_add(&ps->resets, resets);
		}
	}
	rk.family = t->family;
	__builtin_memcpy(rk.addr, t->daddr, 16);
	rs = bpf_map_lookup_elem(&endpoint_peers, &rk);
	if (!rs) {
		bpf_map_update_elem(&endpoint_peers, &rk, &rfresh, BPF_NOEXIST);
		rs = bpf_map_lookup_elem(&endpoint_peers, &rk);
	}
	if (rs) {
		__sync_fetch_and_add(&rs->retrans_segs, retrans_segs);
		__sync_fetch_and_add(&rs->resets, resets);
	}
}

#endif /* BUSPROBE_ENDPOINT_STATS_BPF_H */
