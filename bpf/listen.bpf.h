/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Listeners by namespace and port, for the listen-queue overflow count of the
 * drop family (bpf/drop.bpf.c): a SYN that finds the accept queue full is
 * freed through consume_skb(), not kfree_skb(), so the listener's own queue
 * says what happened to it. Filled where listeners are born (listen(): the
 * state family's TCP_LISTEN transition) and found (the traffic iterator's
 * seeding pass at start), removed when they leave LISTEN. BPF side only.
 */
#ifndef BUSPROBE_LISTEN_BPF_H
#define BUSPROBE_LISTEN_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct bp_listen_key {
	__u32 netns;
	__u16 port;
	__u16 _pad;
};

/* The listening socket's address, by (netns, local port); 16k listeners per host is plenty. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct bp_listen_key);
	__type(value, __u64);
} listeners SEC(".maps") __weak;

static __always_inline void bp_listen_key_of(struct bp_listen_key *k, const struct sock *sk)
{
	k->netns = sk->__sk_common.skc_net.net->ns.inum;
	k->port = sk->__sk_common.skc_num;
}

/*
 * A socket enters or leaves LISTEN. A listener's children leave LISTEN too
 * (inet_csk_clone_lock() copies the state, then sets TCP_SYN_RECV), on the
 * same port: only the listener itself takes its entry away. The children's
 * transition is told apart without a lookup (one per accepted connection);
 * the address check stays for any other way out of LISTEN.
 */
static __always_inline void bp_note_listener(const struct sock *sk, int oldstate, int newstate)
{
	struct bp_listen_key k = {};
	__u64 addr = (__u64)sk, *known;

	/* a child: inet_csk_clone_lock() moves it from its listener's LISTEN straight to SYN_RECV */
	if ((newstate != TCP_LISTEN && oldstate != TCP_LISTEN) || newstate == TCP_SYN_RECV)
		return;
	bp_listen_key_of(&k, sk);
	if (newstate == TCP_LISTEN) {
		bpf_map_update_elem(&listeners, &k, &addr, BPF_ANY);
		return;
	}
	known = bpf_map_lookup_elem(&listeners, &k);
	if (known && *known == addr)
		bpf_map_delete_elem(&listeners, &k);
}

#endif /* BUSPROBE_LISTEN_BPF_H */
