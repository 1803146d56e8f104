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
#include "topic.bpf.h"
#include "drop_cause.bpf.h"

/* include/net/inet_connection_sock.h, include/net/tcp.h: #defines, so not in BTF */
#define ICSK_TIME_LOSS_PROBE 5
#define TCPHDR_SYN           0x02
#define TCPCB_LOST           0x04

/* errnos of __tcp_retransmit_skb() (include/uapi/asm-generic/errno*.h) */
#define EAGAIN        11
#define ENOMEM        12
#define EBUSY         16
#define EINVAL        22
#define EHOSTUNREACH 113

/*
 * The tracepoint gained an `err` argument and moved to fire on failed
 * retransmits too in v6.16 ("tcp: add the ability to trace retransmit
 * failures"). Its own event class appeared with it, so the class having an
 * `err` field tells whether ctx[2] exists.
 */
struct trace_event_raw_tcp_retransmit_skb___bp {
	int err;
} __attribute__((preserve_access_index));

/* Segments the kernel counted as retransmitted, by trigger: see struct bp_retrans_stats. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_RETRANS_KINDS);
	__type(key, __u32);
	__type(value, struct bp_retrans_stats);
} retrans_triggers SEC(".maps");

/*
 * Where the kernel counts a retransmission, in __tcp_retransmit_skb()
 * (net/ipv4/tcp_output.c, v6.16+): the attempt first returns -EBUSY (the
 * original still in a qdisc or driver queue), -EINVAL, -ENOMEM,
 * -EHOSTUNREACH (no route) or -EAGAIN (outside the peer's window) without
 * counting anything; then it adds tcp_skb_pcount() to TcpRetransSegs and to
 * tp->total_retrans together, and only then hands the segment to
 * tcp_transmit_skb(), whose error (-EPERM from a netfilter drop, -ENOBUFS,
 * ...) leaves both counts standing. The tracepoint fires at the end either
 * way. The errno alone cannot tell the two apart (-EHOSTUNREACH, -EINVAL
 * and -ENOMEM come from both halves), the socket's count can: it moved by
 * exactly segs when the kernel counted. Nothing else moves it between two
 * events busprobe sees (tcp_rtx_synack() does for a Fast Open child, and
 * resets the baseline there; so does the SYN_RECV -> ESTABLISHED of a child).
 *
 * Without a baseline (a socket busprobe never saw: older than the agent, or
 * evicted from sock_info before it had a base) the first event falls back on the errno: a success
 * and the errors only tcp_transmit_skb() returns are counted, the five of
 * the first half are not.
 *
 * Returns the segments to count now: segs, or 0 for an attempt the kernel
 * did not count. With a base (the socket's own storage, so the baseline is
 * surely this socket's) a count that moved by more than segs is counted
 * whole: the kernel runs no tracing program inside another run of the same
 * program on one CPU (bpf_prog_inc_misses_counter(), the recursion misses),
 * so a retransmit in softirq that interrupts this program's run for another
 * socket in process context is never seen; the socket's own count still
 * moved, and its next retransmit brings the endpoint's count back to the
 * kernel's. What a missed event carried is charged to the next one's trigger
 * and topic; the sums stay exact.
 */
static __always_inline __u32 bp_retrans_counted(__u32 *rep, bool own, __u32 total_retrans, __u32 segs, int err)
{
	bool by_errno = err != -EBUSY && err != -EINVAL && err != -ENOMEM && err != -EHOSTUNREACH &&
			err != -EAGAIN;
	__u32 delta;

	if (!rep)
		return by_errno ? segs : 0;
	delta = total_retrans - *rep;
	*rep = total_retrans;
	if (delta == segs)
		return segs;
	if (delta == 0)
		return 0;
	if (own && delta > segs && delta - segs < (1U << 20))
		return delta; /* this attempt's segs, and those of retransmits no run of ours saw */
	return by_errno ? segs : 0; /* the baseline was not this socket's */
}

/*
 * The trigger, as the MIBs the kernel moves around the call tell it:
 * - tcp_xmit_retransmit_queue() retransmits only segments marked
 *   TCPCB_LOST, and adds them to TCPSlowStartRetrans in TCP_CA_Loss, else
 *   to TCPFastRetrans (after a successful send);
 * - tcp_retransmit_timer() enters TCP_CA_Loss before it resends the head
 *   (and counts TCPTimeouts per timeout, not per segment);
 * - tcp_send_loss_probe() resends the tail segment, normally not marked
 *   lost, and runs with icsk_pending still ICSK_TIME_LOSS_PROBE (it clears it
 *   after TCPLossProbes). icsk_pending alone is the armed timer, not the
 *   running one: an ACK that enters Recovery with a probe armed resends
 *   lost segments under it, which is why the LOST mark is asked first;
 * - a segment with SYN adds to TCPSynRetrans wherever it is resent.
 * What is left (the data of an active Fast Open resent on the SYN-ACK)
 * moves none of these MIBs: unknown.
 */
static __always_inline __u8 retrans_kind(const struct sock *sk, const struct tcp_skb_cb *tcb, __u8 ca_state)
{
	const struct inet_connection_sock *icsk = (const void *)sk;

	/* tcp_flags was widened from __u8 to __u16 for AccECN's AE bit: read it at its size */
	if (BPF_CORE_READ_BITFIELD_PROBED(tcb, tcp_flags) & TCPHDR_SYN)
		return BP_RETRANS_SYN;
	if (ca_state == TCP_CA_Loss)
		return BP_RETRANS_RTO;
	if (BPF_CORE_READ(tcb, sacked) & TCPCB_LOST)
		return BP_RETRANS_FAST;
	if (BPF_CORE_READ(icsk, icsk_pending) == ICSK_TIME_LOSS_PROBE)
		return BP_RETRANS_TLP;
	return BP_RETRANS_UNKNOWN;
}

/*
 * How long a local drop of the flow stays its retransmits' cause: 3 s plus
 * four smoothed RTTs. A first retransmit comes within an RTO of the loss (at
 * least 200 ms, about 1 s for a young connection), and a drop of the
 * retransmit itself starts the window again; an older drop is taken for
 * history rather than the reason for this resend.
 */
#define BP_CAUSE_WINDOW_NS (3ULL * 1000000000ULL)

/* The flow's last local drop, into the record, when it is recent enough to be this retransmit's cause. */
static __always_inline void fill_cause(struct bp_event *e, __u32 srtt_us)
{
	struct bp_flow_key k = {};
	struct bp_flow_drop *d;
	__u64 now;

	bp_flow_key_of(&k, &e->tuple);
	d = bpf_map_lookup_elem(&flow_drops, &k);
	if (!d)
		return;
	now = bpf_ktime_get_ns();
	if (d->ts_ns > now || now - d->ts_ns > BP_CAUSE_WINDOW_NS + 4000ULL * srtt_us)
		return;
	e->flags |= BP_F_CAUSE;
	e->u.retransmit.cause_reason = d->reason;
	e->u.retransmit.cause_netns = d->netns;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(handle_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb)
{
	const struct inet_connection_sock *icsk = (const void *)sk;
	const struct tcp_sock *tp = (const void *)sk;
	const struct tcp_skb_cb *tcb = (const void *)skb->cb;
	struct bp_retrans_stats *trig;
	struct bp_kind_stats *st;
	struct bp_sock_base *base;
	struct bp_attr a = {};
	struct bp_tuple t = {};
	struct bp_event *e;
	__u32 segs, total, kind, rk, n;
	bool counted;
	__u64 topic = 0;
	__u8 ca_state;
	int err = 0;

	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb___bp, err))
		err = (int)ctx[2];

	/* tcp_skb_pcount(): the unit that TcpRetransSegs counts */
	segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (!segs)
		segs = 1;
	total = BPF_CORE_READ(tp, total_retrans);
	ca_state = BPF_CORE_READ_BITFIELD_PROBED(icsk, icsk_ca_state);
	rk = retrans_kind(sk, tcb, ca_state);

	/*
	 * The baseline is the base's once the socket has one (an opened
	 * connection: eviction cannot lose it), else the entry's (a connection
	 * attempt). A socket older than the agent, or evicted before its base,
	 * is remembered at its first retransmit, so that its lifetime traffic is
	 * added once and only deltas later, and its next retransmits are told
	 * apart by its own count.
	 */
	a.info = bp_sock_info(sk, false);
	base = bp_sock_base(sk, false);
	bp_base_seen(base, a.info);
	n = bp_retrans_counted(base ? &base->total_retrans_rep : a.info ? &a.info->total_retrans_rep : NULL,
			       base != NULL, total, segs, err);
	counted = n != 0;
	if (!a.info)
		a.info = bp_sock_info(sk, true);
	if (a.info)
		a.info->total_retrans_rep = total;
	bp_resolve(sk, &a);
	kind = counted ? BP_KIND_RETRANSMIT : BP_KIND_RETRANSMIT_FAILED;
	if (counted) {
		struct bp_endpoint_stats *es;

		trig = bpf_map_lookup_elem(&retrans_triggers, &rk);
		if (trig) {
			__sync_fetch_and_add(&trig->segs, n);
			/* what tcp_output.c adds to TCPRetransFail */
			if (err && err != -EBUSY)
				__sync_fetch_and_add(&trig->unsent_segs, segs);
		}
		es = bp_endpoint_stats(&a);
		if (es) {
			if (!base) {
				base = bp_sock_base(sk, true);
				bp_base_seen(base, a.info);
			}
			__sync_fetch_and_add(&es->retrans_segs, n);
			if (rk < BP_RETRANS_KINDS)
				__sync_fetch_and_add(&es->retrans_trigger_segs[rk], n);
			if (base)
				bp_add_traffic(es, sk, base);
			/* where the endpoint counts, its topics count: their sum is its retrans_segs */
			topic = bp_topic_charge(sk, &a, BPF_CORE_READ(tcb, seq), n);
		}
		bp_read_tuple(&t, sk);
		bp_charge_offenders(&a, &t, n, 0);
	}
	st = bpf_map_lookup_elem(&kind_stats, &kind);
	if (st)
		__sync_fetch_and_add(&st->segs, counted ? n : segs);
	st = bp_account(kind);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, kind, false);
	bp_fill_sock(e, sk);
	e->tuple.protocol = IPPROTO_TCP;
	e->u.retransmit.segs = counted ? n : segs; /* with what skipped runs missed: records sum to the counters */
	e->u.retransmit.err = (__u32)err;
	e->u.retransmit.ca_state = ca_state;
	e->u.retransmit.retrans_kind = rk;
	e->u.retransmit.srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	e->u.retransmit.snd_cwnd = BPF_CORE_READ(tp, snd_cwnd);
	fill_cause(e, e->u.retransmit.srtt_us);
	e->u.retransmit.total_retrans = total;
	e->u.retransmit.seq = BPF_CORE_READ(tcb, seq);
	e->u.retransmit.end_seq = BPF_CORE_READ(tcb, end_seq);
	e->u.retransmit.topic = topic;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

/*
 * tcp_rtx_synack() fires this only after the SYN-ACK went out, right where it
 * adds one to TcpRetransSegs and TCPSynRetrans: every hit is counted.
 */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(handle_tcp_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	const struct tcp_request_sock *treq = (const void *)req;
	struct bp_kind_stats *st, *tot;
	struct bp_retrans_stats *trig;
	struct bp_endpoint_stats *es;
	struct bp_sock_info *child;
	struct bp_sock_base *base;
	struct bp_attr a = {};
	struct bp_event *e;
	__u32 kind = BP_KIND_RETRANSMIT_SYNACK, rk = BP_RETRANS_SYNACK;

	/*
	 * sk is the listener, or for a Fast Open request the child socket, whose
	 * total_retrans tcp_rtx_synack() has just moved: not a retransmit of the
	 * retransmit_skb probe's, so that probe's baseline follows.
	 */
	if (sk->__sk_common.skc_state == TCP_SYN_RECV) {
		child = bp_sock_info(sk, false);
		if (child)
			child->total_retrans_rep = bp_total_retrans(sk);
		base = bp_sock_base(sk, false);
		if (base)
			base->total_retrans_rep = bp_total_retrans(sk);
	}
	/*
	 * A SYN-ACK we retransmit: this host serves the endpoint on the request's
	 * local port. Request sockets are never in sock_info: match the tuple.
	 */
	bp_resolve((const struct sock *)&req->__req_common, &a);
	es = bp_endpoint_stats(&a);
	if (es) {
		__sync_fetch_and_add(&es->retrans_segs, 1);
		__sync_fetch_and_add(&es->retrans_trigger_segs[BP_RETRANS_SYNACK], 1);
		bp_topic_charge((const struct sock *)&req->__req_common, &a, 0, 1); /* a SYN-ACK carries no topic: other */
	}
	trig = bpf_map_lookup_elem(&retrans_triggers, &rk);
	if (trig)
		__sync_fetch_and_add(&trig->segs, 1);
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
	/* the SYN-ACK's SYN takes one sequence number: snt_isn */
	e->u.retransmit.seq = BPF_CORE_READ(treq, snt_isn);
	e->u.retransmit.end_seq = e->u.retransmit.seq + 1;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
