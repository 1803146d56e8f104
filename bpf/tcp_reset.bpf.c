// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reset family: tcp:tcp_send_reset and tcp:tcp_receive_reset. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "sock_info.bpf.h"
#include "endpoint_stats.bpf.h"

/*
 * The reset reason argument arrived in v6.10 (enum sk_rst_reason,
 * 5cb2cb3cb271); the event class of that kernel has it as a field.
 */
struct trace_event_raw_tcp_send_reset___bp {
	__u32 reason;
} __attribute__((preserve_access_index));

static __always_inline void count_reset(const struct bp_attr *a, const struct bp_tuple *t, bool sent)
{
	struct bp_endpoint_stats *es = bp_endpoint_stats(a);

	if (es)
		__sync_fetch_and_add(sent ? &es->resets_sent : &es->resets_received, 1);
	bp_charge_offenders(a, t, 0, 1);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_event *e;
	struct bp_event tmp = {};
	bool from_sock = sk && sk->__sk_common.skc_state != TCP_LISTEN;

	/*
	 * Like the tracepoint itself: a socket's own tuple when there is a
	 * connection socket (active resets pass no skb), otherwise the reverse
	 * of the offending packet (a SYN to a closed port passes no socket).
	 */
	if (from_sock) {
		bp_attribute(sk, &a);
		bp_read_tuple(&tmp.tuple, sk);
	} else if (skb) {
		bp_fill_reply_tuple(&tmp, skb);
		bp_match_endpoint(&tmp.tuple, &a.endpoint, &a.direction);
	}
	count_reset(&a, &tmp.tuple, true);

	st = bp_account(BP_KIND_RESET_SENT);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	/*
	 * An active reset (no packet) comes from close()/abort in the caller, or
	 * from a timer (keepalive, FIN_WAIT2 timeout) where current is whoever was
	 * interrupted: the two cannot be told apart here, so the task is not
	 * vouched for; the socket's owner, when known, is attached below.
	 */
	bp_fill_common(e, BP_KIND_RESET_SENT, false);
	if (from_sock) {
		bp_fill_sock(e, sk);
		e->tuple.protocol = IPPROTO_TCP;
	} else if (skb) {
		bp_fill_reply_tuple(e, skb);
		e->flags &= ~BP_F_TASK_VALID;
	}
	if (bpf_core_field_exists(struct trace_event_raw_tcp_send_reset___bp, reason))
		e->u.reset.reason = (__u32)ctx[2];
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_tcp_receive_reset, struct sock *sk)
{
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_tuple t = {};
	struct bp_event *e;

	bp_attribute(sk, &a);
	bp_read_tuple(&t, sk);
	count_reset(&a, &t, false);
	st = bp_account(BP_KIND_RESET_RECEIVED);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_RESET_RECEIVED, false);
	bp_fill_sock(e, sk);
	e->tuple.protocol = IPPROTO_TCP;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
