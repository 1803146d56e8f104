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
 * connection busprobe saw open has its lifetime), and whether it had a
 * sock_info entry (so that an eviction is seen and counted). Kernel-only.
 */
struct bp_sock_base {
	__u64 start_ns;           /* when the connection opened (bp_opened_ns()), 0 if unseen: its lifetime at close */
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
 * tp->total_retrans of a full TCP socket (0 for any other). Callers hold BTF
 * pointers typed struct sock, which the verifier does not let a plain load
 * walk past: bpf_skc_to_tcp_sock() casts after checking the socket, a
 * cheaper call than a probe read (copy_from_kernel_nofault()), and the state
 * program makes two or three per connection side.
 */
static __always_inline __u32 bp_total_retrans(const struct sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

	return tp ? tp->total_retrans : 0;
}

/*
 * The socket table has two parts: sock_slots (below), where a socket's
 * entry normally lives, and this LRU map keyed by the sock pointer, for the
 * few sockets whose slot another live socket holds. An entry is deleted (a
 * slot freed) when the socket reaches TCP_CLOSE: every TCP socket that was
 * ever connected passes through it. An LRU map because a full map must
 * never stop attribution of new sockets: the least recently used entry is
 * evicted, and that socket's later events carry the current task and a
 * fresh endpoint lookup instead of its owner. Both parts are sized by the
 * agent before load (bpf_map__set_max_entries) from
 * `run --socket-table-size`, 65,536 by default: well above what a bus
 * client or broker holds.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bp_sock_info);
} sock_info SEC(".maps") __weak;

/*
 * One socket's place in sock_slots: its entry and, once its connection
 * opened (ESTABLISHED) under busprobe, its base.
 */
struct bp_sock_slot {
	__u64 key;                /* bp_slot_key() of the slot's socket; 0: free */
	struct bp_sock_info info;
	__u8  flags;              /* BP_SLOT_* */
	__u8  _pad0[7];
	struct bp_sock_base base; /* valid with BP_SLOT_BASE */
	__u8  _pad1[24];          /* two cache lines */
};

#define BP_SLOT_BASE 1 /* the connection opened here: base is its base */

/*
 * A direct-mapped array of slots indexed by a hash of the sock pointer,
 * 2^n of them (the agent rounds --socket-table-size down to a power of
 * two). A socket claims its slot where its entry is made (connect(), the
 * SYN, or the first event of a socket older than the agent) and frees it at
 * TCP_CLOSE; a socket whose slot another live one holds (a chance of about
 * live sockets / slots) uses sock_info and sock_base instead.
 *
 * Why slots: a hash map's insert, lookup and delete each walk a bucket
 * under a lock, and per-socket storage allocates (kmalloc, memcg and optmem
 * charges, 400-800 ns under loopback churn); a slot is an inlined array
 * lookup and a compare-and-swap, and one cache line pair holds everything
 * the state program needs of a connection: owner, cached endpoint match and
 * base. BENCHMARKS.md, "The socket table in slots".
 *
 * A socket's base lives in its slot or in sock_base (per-socket storage,
 * made on demand and freed by the kernel with the socket, __sk_destruct):
 * the base of a socket counted before it opened or without opening here
 * (found open at start, a retransmit, the traffic refresh of a known
 * socket), and of a connection without a slot. Neither evicts.
 *
 * A close that busprobe misses (the program skipped on a CPU where it was
 * already running: the program's recursion_misses) leaves its slot held.
 * The next socket at the same address takes it over at its start (a start
 * resets the slot whole), and until then the sockets that hash to it use
 * sock_info and sock_base: slower, exact either way. A base in a slot is
 * used only for a socket in an open state (bp_open_state()): such a socket
 * reached ESTABLISHED, where its base was filled anew.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct bp_sock_slot);
} sock_slots SEC(".maps") __weak;

_Static_assert(sizeof(struct bp_sock_slot) == 128, "one slot, two cache lines");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bp_sock_base);
} sock_base SEC(".maps") __weak;

/*
 * A socket's key in sock_slots: its address relative to the array's. The
 * verifier refuses any arithmetic on a socket pointer but subtracting
 * another pointer from it (for a privileged program); the difference is a
 * number, as unique per socket as the address, and never 0.
 */
static __always_inline __u64 bp_slot_key(const struct sock *sk)
{
	return (__u64)sk - (__u64)&sock_slots;
}

/*
 * The same for a socket address that is a number already (read from the
 * file table). The array's address becomes a number by a round trip through
 * a map value, where every program stores the same constant.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sock_slots_addr SEC(".maps") __weak;

static __always_inline __u64 bp_slot_key_untyped(__u64 sk)
{
	__u32 zero = 0;
	__u64 *addr = bpf_map_lookup_elem(&sock_slots_addr, &zero);

	if (!addr)
		return 0;
	*addr = (__u64)&sock_slots;
	return sk - *(volatile __u64 *)addr;
}

/*
 * The slot of key, whoever holds it: Fibonacci hashing, the high half of
 * the product masked to the array's size (a power of two, so index_mask is
 * size - 1).
 */
static __always_inline struct bp_sock_slot *bp_slot_at(__u64 key)
{
	__u32 idx = ((key * 0x9E3779B97F4A7C15ULL) >> 32) & ((struct bpf_array *)&sock_slots)->index_mask;

	return bpf_map_lookup_elem(&sock_slots, &idx);
}

/* The slot that key holds, or NULL. */
static __always_inline struct bp_sock_slot *bp_slot_of(__u64 key)
{
	struct bp_sock_slot *s;

	if (!BP_ATTRIBUTION || !key)
		return NULL;
	s = bp_slot_at(key);
	return s && s->key == key ? s : NULL;
}

/* sk's slot, or NULL when it holds none. */
static __always_inline struct bp_sock_slot *bp_slot(const struct sock *sk)
{
	return bp_slot_of(bp_slot_key(sk));
}

/*
 * sk's slot: the one it holds, else its free slot, claimed; NULL when
 * another socket holds it. *fresh is set when sk had not held it (the
 * caller fills it).
 */
static __always_inline struct bp_sock_slot *bp_slot_claim(const struct sock *sk, bool *fresh)
{
	__u64 key = bp_slot_key(sk);
	struct bp_sock_slot *s;

	if (!BP_ATTRIBUTION)
		return NULL;
	s = bp_slot_at(key);
	if (!s)
		return NULL;
	if (s->key == key)
		return s;
	if (s->key || __sync_val_compare_and_swap(&s->key, 0, key) != 0)
		return NULL;
	*fresh = true;
	return s;
}

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
 * sk's base, or NULL: its storage's, else its slot's (then *in_slot is set,
 * when given); with create, storage is made when it has neither. A new or
 * reset base takes the socket's retransmit count as it is now: every
 * retransmit before went through the retransmit probe, which counted it
 * with or without a base.
 */
static __always_inline struct bp_sock_base *bp_sock_base_in(const struct sock *sk, bool create, bool *in_slot)
{
	struct bp_sock_slot *s;
	struct bp_sock_base *b;

	if (!BP_ATTRIBUTION)
		return NULL;
	/*
	 * The state before the transition, in the state program (see
	 * sock_slots). A socket with a base in its slot has no storage: its base
	 * went there because it had none when it opened, and while it is open
	 * every later bp_sock_base() finds the slot's first.
	 */
	if (bp_open_state(sk->__sk_common.skc_state)) {
		s = bp_slot(sk);
		if (s && (s->flags & BP_SLOT_BASE)) {
			if (in_slot)
				*in_slot = true;
			return &s->base;
		}
	}
	b = bpf_sk_storage_get(&sock_base, (struct sock *)sk, NULL, 0);
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
 * sk's entry, and its slot in *slot when the entry is there (given slot);
 * with create, an empty one is made when there is none: in sk's slot if it
 * is free, else in sock_info. A new entry's retransmit baseline is the
 * socket's count now: every retransmit before this moment went through the
 * retransmit probe, which counted it with or without an entry. An entry
 * made for a socket that has a base replaces one the LRU evicted (or
 * deleted at TCP_CLOSE, which clears the base's mark): the eviction is
 * counted now, and the base is marked again.
 */
static __always_inline struct bp_sock_info *bp_sock_info_slot(const struct sock *sk, bool create,
							       struct bp_sock_slot **slot)
{
	struct bp_sock_info fresh = {}, *info;
	struct bp_sock_slot *s;
	__u64 key = (__u64)sk;
	bool claimed = false;

	if (!BP_ATTRIBUTION)
		return NULL;
	s = bp_slot(sk);
	if (s) {
		info = &s->info;
		goto found;
	}
	info = bpf_map_lookup_elem(&sock_info, &key);
	if (info || !create)
		return info;
	fresh.total_retrans_rep = bp_total_retrans(sk);
	fresh.topics = 1;
	s = bp_slot_claim(sk, &claimed);
	if (s) {
		s->info = fresh;
		s->flags = 0;
		info = &s->info;
	} else {
		bpf_map_update_elem(&sock_info, &key, &fresh, BPF_NOEXIST);
		info = bpf_map_lookup_elem(&sock_info, &key);
		if (!info)
			return NULL;
	}
	{
		struct bp_sock_base *b = bp_sock_base(sk, false);

		bp_base_seen(b, false);
		bp_base_seen(b, true);
	}
found:
	if (slot)
		*slot = s;
	return info;
}

static __always_inline struct bp_sock_info *bp_sock_info(const struct sock *sk, bool create)
{
	return bp_sock_info_slot(sk, create, NULL);
}

/*
 * The entry of a socket whose address is a number (read from the file
 * table), or NULL; never made here.
 */
static __always_inline struct bp_sock_info *bp_sock_info_untyped(__u64 sk)
{
	struct bp_sock_slot *s;

	if (!BP_ATTRIBUTION)
		return NULL;
	s = bp_slot_of(bp_slot_key_untyped(sk));
	if (s)
		return &s->info;
	return bpf_map_lookup_elem(&sock_info, &sk);
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
 * of an earlier socket at the same address is inherited, in its slot (taken
 * over whole when it holds it already: a missed close left it) or, when
 * another socket holds that, in sock_info. owner: the current task is the
 * owner (connect()). The entry is returned (in *fresh) for the caller's
 * record: a start's tuple may not be the connection's yet (connect() picks
 * the source port after it, and inet_csk_clone_lock() sets a child's
 * SYN_RECV before it copies the request's ports and addresses in some
 * kernels), so what a match made for the record caches in it is dropped.
 */
static __always_inline void bp_start(const struct sock *sk, bool owner, struct bp_sock_info *fresh)
{
	struct bp_sock_slot *s;
	__u64 key = (__u64)sk;
	bool claimed = false;

	if (!BP_ATTRIBUTION)
		return;
	/* a SYN_RECV child's count is set after this (see handle_inet_sock_set_state) */
	fresh->total_retrans_rep = bp_total_retrans(sk);
	if (owner)
		bp_set_owner_current(fresh);
	s = bp_slot_claim(sk, &claimed);
	if (s) {
		s->info = *fresh;
		s->flags = 0;
	} else {
		bpf_map_update_elem(&sock_info, &key, fresh, BPF_ANY);
	}
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
	struct bp_sock_info *info = bp_sock_info_untyped((__u64)sk);

	if (info && !info->owner_known)
		bp_set_owner_current(info);
}

/*
 * Delete sk's entry at TCP_CLOSE, only called when it had one: its slot
 * (given when the entry is there) goes back, else its sock_info entry.
 * Anything read of the entry is read before: a freed slot is another
 * socket's to claim.
 */
static __always_inline void bp_forget(const struct sock *sk, struct bp_sock_slot *slot)
{
	__u64 key = (__u64)sk;

	if (!BP_ATTRIBUTION)
		return;
	if (slot)
		slot->key = 0;
	else
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
