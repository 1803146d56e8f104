/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading sockets and packets into the wire format; BPF side only. */
#ifndef BUSPROBE_SOCK_BPF_H
#define BUSPROBE_SOCK_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

#define AF_INET   2
#define AF_INET6 10

/*
 * Whether the current task is the one the event is about cannot be read
 * from the preempt count portably: x86 keeps it in the per-CPU
 * __preempt_count, which a kernel without CONFIG_KALLSYMS_ALL cannot
 * resolve as a ksym. So each probe says what it knows about its call site:
 * connect()/close() state changes and send-side buffer charges run in the
 * caller's syscall, retransmits and received packets run in softirq or
 * timer context where `current` is whoever was interrupted.
 */
/* Fill the fields every record has: time, task, kind. comm is bp_apply_attr()'s. */
static __always_inline void bp_fill_common(struct bp_event *e, __u32 kind, bool task_valid)
{
	__u64 id = bpf_get_current_pid_tgid();

	/* ring memory is not zeroed, and unused union bytes must not leak */
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->kind = kind;
	if (task_valid)
		e->flags = BP_F_TASK_VALID;
}

/*
 * sk_protocol became a plain u16 in bf9765145b85 (v5.6); before that it was
 * an 8-bit bitfield.
 */
struct sock___pre_5_6 {
	unsigned int sk_protocol:8;
} __attribute__((preserve_access_index));

/*
 * Two ways to read a socket: programs whose socket comes from a tp_btf or
 * iterator argument hold a BTF pointer and read fields with plain loads (no
 * helper call per field); the accept syscall-exit path finds its socket
 * through the file table, an untyped pointer that needs bpf_probe_read_kernel
 * (BPF_CORE_READ), and only checks the protocol. Both relocate with CO-RE.
 */
static __always_inline __u16 bp_sk_protocol_btf(const struct sock *sk)
{
	if (bpf_core_field_size(sk->sk_protocol) == 2)
		return sk->sk_protocol;
	return BPF_CORE_READ_BITFIELD((struct sock___pre_5_6 *)sk, sk_protocol);
}

static __always_inline __u16 bp_sk_protocol(const struct sock *sk)
{
	if (bpf_core_field_size(sk->sk_protocol) == 2)
		return BPF_CORE_READ(sk, sk_protocol);
	return BPF_CORE_READ_BITFIELD_PROBED((struct sock___pre_5_6 *)sk, sk_protocol);
}

/* ::ffff:0:0/96, an IPv4 address in an AF_INET6 socket (RFC 4291 2.5.5.2). */
static __always_inline bool bp_v4_mapped(const struct in6_addr *a)
{
	return a->in6_u.u6_addr32[0] == 0 && a->in6_u.u6_addr32[1] == 0 &&
	       a->in6_u.u6_addr32[2] == bpf_htonl(0x0000ffff);
}

static __always_inline bool bp_v6_any(const struct in6_addr *a)
{
	return (a->in6_u.u6_addr32[0] | a->in6_u.u6_addr32[1] | a->in6_u.u6_addr32[2] |
		a->in6_u.u6_addr32[3]) == 0;
}

/*
 * A socket's addresses into t, given its family, both IPv6 addresses (read
 * for AF_INET6 only) and both IPv4 ones. The one copy of the dual-stack rule,
 * for BTF pointers (bp_read_tuple) and for sockets read with probe reads
 * (the topic send side's, found through the file table) alike.
 */
static __always_inline void bp_tuple_addrs(struct bp_tuple *t, __u16 family, const struct in6_addr *saddr6,
					   const struct in6_addr *daddr6, __u32 saddr4, __u32 daddr4)
{
	t->family = family;
	if (family == AF_INET6 && bp_v4_mapped(daddr6) && (bp_v4_mapped(saddr6) || bp_v6_any(saddr6))) {
		/*
		 * An AF_INET6 socket talking IPv4 (::ffff:a.b.c.d, how the JVM
		 * opens every socket by default, and every socket a dual-stack
		 * listener accepts from an IPv4 peer): the kernel sends IPv4 and
		 * keeps the IPv4 addresses in skc_daddr and skc_rcv_saddr too.
		 * Report it as the IPv4 connection it is, so that IPv4 endpoint
		 * rules match it and it prints as IPv4 (README "Dual stack").
		 */
		t->family = AF_INET;
		*(__u32 *)t->saddr = saddr6->in6_u.u6_addr32[3];
		*(__u32 *)t->daddr = daddr6->in6_u.u6_addr32[3];
	} else if (family == AF_INET6) {
		__builtin_memcpy(t->saddr, saddr6->in6_u.u6_addr8, 16);
		__builtin_memcpy(t->daddr, daddr6->in6_u.u6_addr8, 16);
	} else {
		*(__u32 *)t->saddr = saddr4;
		*(__u32 *)t->daddr = daddr4;
	}
}

/*
 * The 4-tuple of a socket (a BTF pointer: plain loads). Works for full,
 * request and time-wait sockets alike: everything read lives in sock_common,
 * except the source port of a full TCP socket, read like the kernel's own
 * tracepoints do: inet_sport, which tcp_set_state(TCP_CLOSE) still has.
 */
static __always_inline void bp_read_tuple(struct bp_tuple *t, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;
	struct tcp_sock *tp;
	__u8 state = skc->skc_state;

	t->sport = skc->skc_num;
	if (state != TCP_TIME_WAIT && state != TCP_NEW_SYN_RECV && (tp = bpf_skc_to_tcp_sock((void *)sk)))
		t->sport = bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport);
	t->dport = bpf_ntohs(skc->skc_dport);
	bp_tuple_addrs(t, skc->skc_family, &skc->skc_v6_rcv_saddr, &skc->skc_v6_daddr, skc->skc_rcv_saddr,
		       skc->skc_daddr);
}

/* Tuple and identity from a (BTF) socket into a record. */
static __always_inline void bp_fill_sock(struct bp_event *e, const struct sock *sk)
{
	const struct sock_common *skc = &sk->__sk_common;

	bp_read_tuple(&e->tuple, sk);
	e->state = skc->skc_state;
	e->netns = skc->skc_net.net->ns.inum;
	e->sock_cookie = bpf_get_socket_cookie((void *)sk);
}

/*
 * Tuple of the reply to a received packet, for resets sent without a
 * socket (tcp_v4_send_reset/tcp_v6_send_reset with sk == NULL): the reply
 * goes from the packet's destination back to its source.
 */
static __always_inline void bp_fill_reply_tuple(struct bp_event *e, const struct sk_buff *skb)
{
	struct bp_tuple *t = &e->tuple;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th_off = BPF_CORE_READ(skb, transport_header);
	struct tcphdr th;
	__u8 version;

	bpf_probe_read_kernel(&version, 1, head + nh);
	version >>= 4;
	if (version == 6) {
		struct ipv6hdr ip6;

		bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh);
		t->family = AF_INET6;
		__builtin_memcpy(t->saddr, &ip6.daddr, 16);
		__builtin_memcpy(t->daddr, &ip6.saddr, 16);
	} else {
		struct iphdr ip;

		bpf_probe_read_kernel(&ip, sizeof(ip), head + nh);
		t->family = AF_INET;
		__builtin_memcpy(t->saddr, &ip.daddr, 4);
		__builtin_memcpy(t->daddr, &ip.saddr, 4);
	}
	bpf_probe_read_kernel(&th, sizeof(th), head + th_off);
	t->sport = bpf_ntohs(th.dest);
	t->dport = bpf_ntohs(th.source);
	t->protocol = IPPROTO_TCP;
	e->state = 0;
	e->flags |= BP_F_NO_SOCKET;
	e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
}

#endif /* BUSPROBE_SOCK_BPF_H */
