// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket-buffer pressure family: sock:sock_rcvqueue_full and
 * sock:sock_exceed_buf_limit. Any protocol; the record carries it.
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

static __always_inline void fill_buffers(struct bp_event *e, const struct sock *sk)
{
	e->u.pressure.rmem_alloc = sk->sk_backlog.rmem_alloc.counter;
	e->u.pressure.rcvbuf = sk->sk_rcvbuf;
	e->u.pressure.wmem_queued = sk->sk_wmem_queued;
	e->u.pressure.sndbuf = sk->sk_sndbuf;
}

/* Pressure on a TCP socket counts for its endpoint; other protocols land in "other". */
static __always_inline void count_pressure(const struct sock *sk, struct bp_attr *a)
{
	struct bp_endpoint_stats *es;

	if (bp_sk_protocol_btf(sk) == IPPROTO_TCP)
		bp_attribute(sk, a);
	es = bp_endpoint_stats(a);
	if (es)
		__sync_fetch_and_add(&es->pressure, 1);
}

SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(handle_sock_rcvqueue_full, const struct sock *sk, const struct sk_buff *skb)
{
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_event *e;

	count_pressure(sk, &a);
	st = bp_account(BP_KIND_RCVQUEUE_FULL);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_RCVQUEUE_FULL, false);
	bp_fill_sock(e, sk);
	e->tuple.protocol = bp_sk_protocol_btf(sk);
	fill_buffers(e, sk);
	e->u.pressure.truesize = skb->truesize;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

/* The `kind` argument (SK_MEM_SEND/RECV) exists since d6f19938eb03 (v4.19). */
SEC("tp_btf/sock_exceed_buf_limit")
int BPF_PROG(handle_sock_exceed_buf_limit, const struct sock *sk, const struct proto *prot,
	     long allocated, int kind)
{
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_event *e;

	count_pressure(sk, &a);
	st = bp_account(BP_KIND_EXCEED_BUF_LIMIT);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	/* send-side charges happen in the sender's syscall; receive in softirq */
	bp_fill_common(e, BP_KIND_EXCEED_BUF_LIMIT, kind == BP_MEM_SEND);
	bp_fill_sock(e, sk);
	e->tuple.protocol = bp_sk_protocol_btf(sk);
	fill_buffers(e, sk);
	e->u.pressure.allocated = allocated;
	e->u.pressure.mem_kind = kind;
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
