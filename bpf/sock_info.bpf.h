/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attribution: which process owns a socket and which bus endpoint it talks
 * to, learned where that is known (connect, accept, close) and attached to
 * every later event on the socket. BPF side only.
 */
#ifndef BUSPROBE_SOCK_INFO_BPF_H
#define BUSPROBE_SOCK_INFO_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "sock.bpf.h"
#include "endpoint.bpf.h"

/* What busprobe knows of one socket; kernel-only, keyed by the sock pointer. */
struct bp_sock_info {
	__u64 start_ns;           /* connect() or the SYN, 0 when not seen */
	__u64 cgroup_id;
	__u64 bytes_sent_rep;     /* socket counters already added to the endpoint */
	__u64 bytes_received_rep;
	__u32 segs_out_rep;
	__u32 segs_in_rep;
	__u32 tgid;
	__u32 rules_gen;          /* endpoints_gen + 1 when endpoint/direction were matched; 0: not yet */
	__u16 endpoint;
	__u8  direction;
	__u8  owner_known;
	__u8  comm[16];
	__u16 opened_endpoint;    /* where conn_opened was counted, when opened is set */
	__u8  opened_direction;
	__u8  opened;
	__u32 total_retrans_rep;  /* tp->total_retrans as of busprobe's last look; see bp_retrans_counted() */
};

/*
 * tp->total_retrans of a full TCP socket. Read with a probe read: callers
 * hold BTF pointers typed struct sock, which the verifier does not let a
 * plain load walk past.
 */
static __always_inline __u32 bp_total_retrans(const struct sock *sk)
{
	return BPF_CORE_READ((const struct tcp_sock *)sk, total_retrans);
}

/*
 * Keyed by the sock pointer, deleted when the socket reaches TCP_CLOSE (every
 * TCP socket that was ever connected passes through it). 64k live
 * connections per host is well above what a bus client or broker holds; an
 * LRU map because a full map must never stop attribution of new sockets: the
 * least recently used entry is evicted, and that socket's later events carry
 * the current task and a fresh endpoint lookup instead of its owner.
 *
 * Not BPF_MAP_TYPE_SK_STORAGE, although its lookup is a pointer walk and it
 * needs no delete: creating an entry there allocates (kmalloc, memcg and
 * socket optmem charges) and was measured at ~850 ns per socket on 6.18,
 * against ~330 ns for this map's update and delete together (BENCHMARKS.md,
 * 2026-11-27 13:11 kernel cost). busprobe's per-event lookups are rare enough
 * (see handle_inet_sock_set_state) that creation is what counts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bp_sock_info);
} sock_info SEC(".maps") __weak;

/* Attribution of one event: the endpoint, and the socket's info if known. */
struct bp_attr {
	struct bp_sock_info *info;
	__u16 endpoint;
	__u8  direction;
};

/*
 * sk's entry; with create, an empty one is made when there is none. A new
 * entry's retransmit baseline is the socket's count now: every retransmit
 * before this moment went through the retransmit probe, which counted it
 * with or without an entry.
 */
static __always_inline struct bp_sock_info *bp_sock_info(const struct sock *sk, bool create)
{
	struct bp_sock_info fresh = {}, *info;
	__u64 key = (__u64)sk;

	if (!BP_ATTRIBUTION)
		return NULL;
	info = bpf_map_lookup_elem(&sock_info, &key);
	if (info || !create)
		return info;
	fresh.total_retrans_rep = bp_total_retrans(sk);
	bpf_map_update_elem(&sock_info, &key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sock_info, &key);
}

/*
 * Endpoint and direction of sk into a: the socket's cached match when it was
 * made under the current rules, else one match on its tuple, cached in
 * a->info when there is one. Called only by events that need the endpoint
 * (counters, records), so transitions that need neither cost no trie lookup.
 */
static __always_inline void bp_resolve(const struct sock *sk, struct bp_attr *a)
{
	struct bp_tuple t = {};
	__u32 zero = 0, *genp, gen;

	if (!BP_ATTRIBUTION)
		return;
	genp = bpf_map_lookup_elem(&endpoints_gen, &zero);
	gen = (genp ? *genp : 0) + 1;
	if (a->info && a->info->rules_gen == gen) {
		a->endpoint = a->info->endpoint;
		a->direction = a->info->direction;
		return;
	}
	bp_read_tuple(&t, sk);
	bp_match_endpoint(&t, &a->endpoint, &a->direction);
	/* connect() before the source port is picked: match again once it is */
	if (a->info && t.sport) {
		a->info->endpoint = a->endpoint;
		a->info->direction = a->direction;
		a->info->rules_gen = gen;
	}
}

/* Attribute an event on sk: its entry if it has one, and its endpoint. */
static __always_inline void bp_attribute(const struct sock *sk, struct bp_attr *a)
{
	a->info = bp_sock_info(sk, false);
	bp_resolve(sk, a);
}

/* The current task becomes the owner of info. */
static __always_inline void bp_set_owner_current(struct bp_sock_info *info)
{
	info->tgid = bpf_get_current_pid_tgid() >> 32;
	info->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(info->comm, sizeof(info->comm));
	info->owner_known = 1;
}

/*
 * sk starts a connection (connect(), the SYN): a fresh entry, so that nothing
 * of an earlier socket at the same address is inherited. owner: the current
 * task is the owner (connect()). One update and no lookup: the entry is
 * returned (in *fresh) only when the caller needs it now, for a record.
 */
static __always_inline void bp_start(const struct sock *sk, bool owner, struct bp_sock_info *fresh)
{
	__u64 key = (__u64)sk;

	if (!BP_ATTRIBUTION)
		return;
	fresh->start_ns = bpf_ktime_get_ns();
	/* a SYN_RECV child's count is set after this (see handle_inet_sock_set_state) */
	fresh->total_retrans_rep = bp_total_retrans(sk);
	if (owner)
		bp_set_owner_current(fresh);
	bpf_map_update_elem(&sock_info, &key, fresh, BPF_ANY);
}

/*
 * The current task acts on sk in a system call (close(), shutdown()): the
 * owner, unless one is known already (connect(), accept()). Also how a
 * connection older than the agent gets its entry.
 */
static __always_inline struct bp_sock_info *bp_learn_current(const struct sock *sk)
{
	struct bp_sock_info *info = bp_sock_info(sk, true);

	if (info && !info->owner_known)
		bp_set_owner_current(info);
	return info;
}

/*
 * accept(): the owner of a socket whose start (the SYN) was already seen. A
 * socket without an entry is left alone: it may have reached CLOSE while it
 * sat in the accept queue, and an entry made now would never be deleted.
 */
static __always_inline void bp_learn_owner(const struct sock *sk)
{
	struct bp_sock_info *info;
	__u64 key = (__u64)sk;

	if (!BP_ATTRIBUTION)
		return;
	info = bpf_map_lookup_elem(&sock_info, &key);
	if (info && !info->owner_known)
		bp_set_owner_current(info);
}

/* Delete sk's entry at TCP_CLOSE; only called when it had one. */
static __always_inline void bp_forget(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	if (BP_ATTRIBUTION)
		bpf_map_delete_elem(&sock_info, &key);
}

/*
 * Put the attribution into a record: endpoint, direction, and the owner when
 * known; else the current task's comm, read only now, so that a record of a
 * socket with a known owner costs no bpf_get_current_comm().
 */
static __always_inline void bp_apply_attr(struct bp_event *e, const struct bp_attr *a)
{
	e->endpoint = a->endpoint;
	e->direction = a->direction;
	if (a->info && a->info->owner_known) {
		e->pid = a->info->tgid;
		e->cgroup_id = a->info->cgroup_id;
		__builtin_memcpy(e->comm, a->info->comm, sizeof(e->comm));
		e->flags |= BP_F_OWNER | BP_F_TASK_VALID;
		return;
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (e->flags & BP_F_TASK_VALID)
		e->cgroup_id = bpf_get_current_cgroup_id();
}

#endif /* BUSPROBE_SOCK_INFO_BPF_H */
