// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Retransmit family: tcp:tcp_retransmit_skb and tcp:tcp_retransmit_synack.
 *
 * BTF-enabled raw tracepoints (tp_btf) rather than classic tracepoints: the
 * arguments are the kernel's own sock/skb pointers, read directly with CO-RE
 * relocations, so there is no dependency on the trace_event_raw_* context
 * struct names that differ between kernel versions.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "sock_info.bpf.h"
#include "endpoint_stats.bpf.h"

/* include/net/inet_connection_sock.h; #defines, so not in BTF */
#define ICSK_TIME_LOSS_PROBE 5

/*
 * The tracepoint gained an `err` argument and moved to fire on failed
 * retransmits too in v6.16 ("tcp: add the ability to trace retransmit
 * failures"). Its own event class appeared with it, so the class having an
 * `err` field tells whether ctx[2] exists.
 */
struct trace_event_raw_tcp_retransmit_skb___bp {
	int err;
} __attribute__((preserve_access_index));

static __always_inline __u8 retrans_kind(const struct sock *sk, __u8 ca_state)
{
	const struct inet_connection_sock *icsk = (const void *)sk;

	if (sk->__sk_common.skc_state == TCP_SYN_SENT)
		return BP_RETRANS_SYN;
	if (ca_state == TCP_CA_Loss)
		return BP_RETRANS_RTO;
	/* tcp_write_timer_handler() leaves icsk_pending set while it runs the probe */
	if (BPF_CORE_READ(icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE)
		return BP_RETRANS_TLP;
	if (ca_state == TCP_CA_Recovery || ca_state == TCP_CA_Disorder)
		return BP_RETRANS_FAST;
	return BP_RETRANS_UNKNOWN;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	const struct inet_connection_sock *icsk = (const void *)sk;
	const struct tcp_sock *tp = (const void *)sk;
	const struct tcp_skb_cb *tcb = (const void *)skb->cb;
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_tuple t = {};
	struct bp_event *e;
	int err = 0;
	__u32 segs;
	__u8 ca_state;

	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb___bp, err))
		err = (int)ctx[2];

	/* tcp_skb_pcount(): the unit that TcpRetransSegs counts */
	segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (!segs)
		segs = 1;

	/*
	 * A socket older than the agent (or evicted) is remembered at its first
	 * sent retransmit, so that its lifetime traffic is added once here and
	 * only deltas later.
	 */
	a.info = bp_sock_info(sk, err == 0);
	bp_resolve(sk, &a);
	if (err == 0) {
		struct bp_kind_stats *tot;
		struct bp_endpoint_stats *es;
		__u32 kind = BP_KIND_RETRANSMIT;

		tot = bpf_map_lookup_elem(&kind_stats, &kind);
		if (tot)
			__sync_fetch_and_add(&tot->segs, segs);
		es = bp_endpoint_stats(&a);
		if (es) {
			__sync_fetch_and_add(&es->retrans_segs, segs);
			bp_add_traffic(es, sk, a.info);
		}
		bp_read_tuple(&t, sk);
		bp_charge_offenders(&a, &t, segs, 0);
	}
	st = bp_account(BP_KIND_RETRANSMIT);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_RETRANSMIT, false);
	bp_fill_sock(e, sk);
	e->tuple.protocol = IPPROTO_TCP;
	ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	e->u.retransmit.segs = segs;
	e->u.retransmit.err = (__u32)err;
	e->u.retransmit.ca_state = ca_state;
	e->u.retransmit.retrans_kind = retrans_kind(sk, ca_state);
	e->u.retransmit.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	e->u.retransmit.snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	e->u.retransmit.total_retrans = BPF_CORE_READ(tp, total_retrans);
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_tcp_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	struct bp_kind_stats *st, *tot;
	struct bp_endpoint_stats *es;
	struct bp_attr a = {};
	struct bp_event *e;
	__u32 kind = BP_KIND_RETRANSMIT_SYNACK;

	/*
	 * A SYN-ACK we retransmit: this host serves the endpoint on the request's
	 * local port. Request sockets are never in sock_info: match the tuple.
	 */
	bp_resolve((const struct sock *)&req->__req_common, &a);
	es = bp_endpoint_stats(&a);
	if (es)
		__sync_fetch_and_add(&es->retrans_segs, 1);
	tot = bpf_map_lookup_elem(&kind_stats, &kind);
	if (tot)
		__sync_fetch_and_add(&tot->segs, 1);
	st = bp_account(kind);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, kind, false);
	/* the request sock carries the connection's tuple in its sock_common */
	bp_fill_sock(e, (const struct sock *)&req->__req_common);
	e->tuple.protocol = IPPROTO_TCP;
	e->state = TCP_SYN_RECV;
	e->u.retransmit.segs = 1;
	e->u.retransmit.retrans_kind = BP_RETRANS_SYNACK;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
