// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Socket-state family: sock:inet_sock_set_state, TCP sockets only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"

/*
 * Transitions that only a system call makes: connect() (CLOSE -> SYN_SENT),
 * listen() (CLOSE -> LISTEN), close()/shutdown() on an open connection
 * (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK) and close() of a
 * listener (LISTEN -> CLOSE). A connecting socket closes on a reset too.
 * Everything else is driven by packets, usually in softirq.
 */
static __always_inline bool user_transition(int oldstate, int newstate)
{
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
		return oldstate == TCP_CLOSE;
	case TCP_FIN_WAIT1:
		return oldstate == TCP_ESTABLISHED || oldstate == TCP_SYN_RECV;
	case TCP_LAST_ACK:
		return oldstate == TCP_CLOSE_WAIT;
	case TCP_CLOSE:
		return oldstate == TCP_LISTEN;
	}
	return false;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct bp_kind_stats *st;
	struct bp_event *e;

	if (bp_sk_protocol(sk) != IPPROTO_TCP)
		return 0;
	st = bp_account(BP_KIND_STATE);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_STATE, user_transition(oldstate, newstate));
	bp_fill_sock(e, sk);
	e->tuple.protocol = IPPROTO_TCP;
	/* fired from tcp_set_state() before the new state is stored */
	e->state = newstate;
	e->u.state.old_state = oldstate;
	e->u.state.new_state = newstate;
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
