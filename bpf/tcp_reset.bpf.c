// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reset family: tcp:tcp_send_reset and tcp:tcp_receive_reset. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"

/*
 * The reset reason argument arrived in v6.10 (enum sk_rst_reason,
 * 5cb2cb3cb271); the event class of that kernel has it as a field.
 */
struct trace_event_raw_tcp_send_reset___bp {
	__u32 reason;
} __attribute__((preserve_access_index));

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(handle_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb)
{
	struct bp_kind_stats *st;
	struct bp_event *e;

	st = bp_account(BP_KIND_RESET_SENT);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	/* an active reset without a packet comes from close()/abort in the caller */
	bp_fill_common(e, BP_KIND_RESET_SENT, sk && !skb);
	/*
	 * Like the tracepoint itself: a socket's own tuple when there is a
	 * connection socket (active resets pass no skb), otherwise the reverse
	 * of the offending packet (a SYN to a closed port passes no socket).
	 */
	if (sk && sk->__sk_common.skc_state != TCP_LISTEN) {
		bp_fill_sock(e, sk);
		e->tuple.protocol = IPPROTO_TCP;
	} else if (skb) {
		bp_fill_reply_tuple(e, skb);
	}
	if (bpf_core_field_exists(struct trace_event_raw_tcp_send_reset___bp, reason))
		e->u.reset.reason = (__u32)ctx[2];
	bp_submit(st, e);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(handle_tcp_receive_reset, struct sock *sk)
{
	struct bp_kind_stats *st;
	struct bp_event *e;

	st = bp_account(BP_KIND_RESET_RECEIVED);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_RESET_RECEIVED, false);
	bp_fill_sock(e, sk);
	e->tuple.protocol = IPPROTO_TCP;
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
