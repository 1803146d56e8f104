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

/*
 * What busprobe knows of one socket for attribution; kernel-only, keyed by
 * the sock pointer in the LRU map sock_info. Losing it to eviction costs the
 * socket its owner and its cached match, never a count: what the counters
 * need is in struct bp_sock_base.
 */
struct bp_sock_info {
	__u64 start_ns;           /* connect() or the SYN, 0 when not seen */
	__u64 cgroup_id;
	__u32 tgid;
	__u32 rules_gen;          /* endpoints_gen + 1 when endpoint/direction were matched; 0: not yet */
	__u16 endpoint;
	__u8  direction;
	__u8  owner_known;
	__u8  comm[16];
	__u32 total_retrans_rep;  /* tp->total_retrans as of busprobe's last look, until the socket has a base */
	/*
	 * 1: a send may have tagged topics (topic_send.bpf.c), so the socket's
	 * topic_ranges element is deleted at TCP_CLOSE. 0 only in an entry made
	 * at the connection's start (bp_start()), before any send: an entry
	 * made again after an eviction, or for a socket older than the agent,
	 * has it. A byte of its own, written without a read: no other field's
	 * update can lose it.
	 */
	__u8  topics;
	__u8  _pad[3];
};

#define BP_BASE_INIT     1 /* total_retrans_rep was taken; unset in a new or reset base */
#define BP_BASE_OPENED   2 /* conn_opened was counted, at opened_endpoint/opened_direction */
#define BP_BASE_IN_TABLE 4 /* the socket had a sock_info entry at busprobe's last look */

/*
 * What the exact counters need of one socket, kept where eviction cannot
 * lose it: the socket counters already added to its endpoint (so that a
 * socket is never counted twice), whether, where and when its open was
 * counted (so that live = opened - closed holds, and every close of a
 * connection busprobe saw start has its lifetime), and whether it had a
 * sock_info entry (so that an eviction is seen and counted). Kernel-only.
 */
struct bp_sock_base {
	__u64 start_ns;           /* the entry's start_ns when the connection opened: its lifetime at close */
	__u64 bytes_sent_rep;     /* socket counters already added to the endpoint */
	__u64 bytes_received_rep;
	__u32 segs_out_rep;
	__u32 segs_in_rep;
	__u32 total_retrans_rep;  /* tp->total_retrans as of busprobe's last look; see bp_retrans_counted() */
	__u16 opened_endpoint;
	__u8  opened_direction;
	__u8  flags;              /* BP_BASE_* */
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
 * TCP socket that was ever connected passes through it). An LRU map because
 * a full map must never stop attribution of new sockets: the least recently
 * used entry is evicted, and that socket's later events carry the current
 * task and a fresh endpoint lookup instead of its owner. Sized by the agent
 * before load (bpf_map__set_max_entries) from `run --socket-table-size`,
 * 65,536 by default: well above what a bus client or broker holds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bp_sock_info);
} sock_info SEC(".maps") __weak;

/*
 * A socket's base lives in one of two maps, neither of which evicts:
 *
 * - sock_open (below), a preallocated plain hash keyed by the sock
 *   pointer: where a connection's base goes when it opens (ESTABLISHED),
 *   deleted at its TCP_CLOSE. Insertion takes a preallocated element, no
 *   allocation.
 * - sock_base, per-socket storage, allocated on demand and freed by the
 *   kernel with the socket (__sk_destruct), never deleted: the base of a
 *   socket counted before it opened or without opening here (found open at
 *   start, a retransmit, the traffic refresh of a known socket), and of a
 *   connection that opens while sock_open is full.
 *
 * Creating per-socket storage allocates (kmalloc, memcg and socket optmem
 * charges) and its free comes later in __sk_destruct, outside run_time_ns:
 * 400-800 ns per creation in the state program under loopback churn, two
 * per connection (1.2-1.5 us on a busier host). An element of sock_open
 * costs its insertion, and a lookup and a delete at close: the state
 * program's cost per connection fell from 3.0-3.3 to 2.0-2.1 us with it
 * (BENCHMARKS.md, 2026-12-02 09:23-09:40). A connection attempt that
 * fails, and every transition that only changes state, pay neither.
 *
 * A close that busprobe misses (the program skipped on a CPU where it was
 * already running: the program's recursion_misses) leaves its element
 * behind. A later socket at the same address must not inherit it, so an
 * element is taken only for a socket in an open state (bp_open_state()):
 * such a socket reached ESTABLISHED, where its own element replaced any
 * left there. What it cannot cover is a missed close followed, at the same
 * address, by a missed ESTABLISHED or a Fast Open child closed before its
 * handshake completed. Not keyed by the socket cookie, which
 * would need no such rule: generating a new socket's cookie cost ~300 ns
 * here, more than the allocation it would save. An element left behind
 * takes a place until its address opens again; a full map sends new
 * connections to sock_base, exact either way.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bp_sock_base);
} sock_open SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bp_sock_base);
} sock_base SEC(".maps") __weak;

/* States of a connection that was opened and has not closed yet. */
static __always_inline bool bp_open_state(int state)
{
	switch (state) {
	case TCP_ESTABLISHED:
	case TCP_FIN_WAIT1:
	case TCP_FIN_WAIT2:
	case TCP_CLOSE_WAIT:
	case TCP_LAST_ACK:
	case TCP_CLOSING:
		return true;
	}
	return false;
}

/*
 * Established connections whose sock_info entry the LRU evicted, each
 * counted once, by the first event that finds its base marked
 * BP_BASE_IN_TABLE and no entry (busprobe_socket_table_evictions_total).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sock_evictions SEC(".maps") __weak;

/*
 * sk's base, or NULL: its storage's, else its element of sock_open (then
 * *in_open is set, when given); with create, storage is made when it has
 * neither. A new or reset base takes the socket's retransmit count as it is
 * now: every retransmit before went through the retransmit probe, which
 * counted it with or without a base.
 */
static __always_inline struct bp_sock_base *bp_sock_base_in(const struct sock *sk, bool create, bool *in_open)
{
	__u64 key = (__u64)sk;
	struct bp_sock_base *b;

	if (!BP_ATTRIBUTION)
		return NULL;
	b = bpf_sk_storage_get(&sock_base, (struct sock *)sk, NULL, 0);
	/* the state before the transition, in the state program (see sock_open) */
	if (!b && bp_open_state(sk->__sk_common.skc_state)) {
		b = bpf_map_lookup_elem(&sock_open, &key);
		if (b) {
			if (in_open)
				*in_open = true;
			return b;
		}
	}
	if (!b && create)
		b = bpf_sk_storage_get(&sock_base, (struct sock *)sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (b && !(b->flags & BP_BASE_INIT)) {
		b->total_retrans_rep = bp_total_retrans(sk);
		b->flags |= BP_BASE_INIT;
	}
	return b;
}

static __always_inline struct bp_sock_base *bp_sock_base(const struct sock *sk, bool create)
{
	return bp_sock_base_in(sk, create, NULL);
}

/*
 * A connection opens on sk, which has no base: *fresh, filled by the caller,
 * becomes its element of sock_open. Any element already there is one a
 * missed close left behind (a connection opens once between two closes),
 * so it is replaced. Nonzero when sock_open is full: the caller makes
 * storage instead.
 */
static __always_inline long bp_sock_open_insert(const struct sock *sk, const struct bp_sock_base *fresh)
{
	__u64 key = (__u64)sk;

	return bpf_map_update_elem(&sock_open, &key, fresh, BPF_ANY);
}

/* The connection on sk closed: its element of sock_open goes. */
static __always_inline void bp_sock_open_delete(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&sock_open, &key);
}

/*
 * Whether sk has a sock_info entry now (has_entry), told to its base: a base
 * that says it had one when it has none was evicted, counted here once.
 */
static __always_inline void bp_base_seen(struct bp_sock_base *b, bool has_entry)
{
	__u32 zero = 0;
	__u64 *n;

	if (!b)
		return;
	if (has_entry) {
		b->flags |= BP_BASE_IN_TABLE;
		return;
	}
	if (!(b->flags & BP_BASE_IN_TABLE))
		return;
	b->flags &= ~BP_BASE_IN_TABLE;
	n = bpf_map_lookup_elem(&sock_evictions, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

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
 * with or without an entry. An entry made for a socket that has a base
 * replaces one the LRU evicted (or deleted at TCP_CLOSE, which clears the
 * base's mark): the eviction is counted now, and the base is marked again.
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
	fresh.topics = 1;
	bpf_map_update_elem(&sock_info, &key, &fresh, BPF_NOEXIST);
	info = bpf_map_lookup_elem(&sock_info, &key);
	if (info) {
		struct bp_sock_base *b = bp_sock_base(sk, false);

		bp_base_seen(b, false);
		bp_base_seen(b, true);
	}
	return info;
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
