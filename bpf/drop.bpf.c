// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Drop family: skb:kfree_skb, which the kernel fires for every packet it
 * frees as dropped, with the reason (enum skb_drop_reason, v5.17+:
 * c504e5c2f964 "net: skb: introduce kfree_skb_reason()"). Packets freed as
 * consumed go through skb:consume_skb instead and are not drops.
 *
 * Every drop is counted exactly in `drop_stats` by endpoint, direction and
 * reason, before sampling decides whether it also becomes a record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "sock_info.bpf.h"
#include "drop_cause.bpf.h"
#include "listen.bpf.h"

/* include/uapi/linux/if_ether.h: #defines, so not in BTF */
#define ETH_P_IP   0x0800
#define ETH_P_IPV6 0x86DD
#define IP_OFFSET  0x1fff /* include/net/ip.h: fragment offset bits of frag_off */

/*
 * The tracepoint gained `rx_sk`, the receiving socket when the stack had
 * found one (a full UDP receive queue, a TCP socket that refused the
 * segment), in c53795d48ee8 (v6.12, "net: add rx_sk to trace_kfree_skb"),
 * and `reason` in c504e5c2f964 (v5.17). The event class grew a field of the
 * same name each time, so the class says whether ctx[2] and ctx[3] exist.
 */
struct trace_event_raw_kfree_skb___bp {
	void *rx_sk;
	enum skb_drop_reason reason;
} __attribute__((preserve_access_index));

/*
 * Exact drops by (endpoint, direction, reason slot); see BP_DROP_STATS_ENTRIES.
 * A shared array rather than a per-CPU one so that the agent can mmap it and
 * read a scrape's worth of counters without a syscall; the cost is an atomic
 * add on a shared cache line, which a drop storm on several CPUs at once
 * makes contend (BENCHMARKS.md, drop cost).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_DROP_STATS_ENTRIES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
} drop_stats SEC(".maps");

/*
 * The packet's own tuple from its IPv4/IPv6 and TCP/UDP headers, oriented as
 * the packet travels (saddr: its sender). False when the headers cannot be
 * trusted: a packet still being built on the send path has no network header
 * yet (skb->protocol is set when it gets one), and only the first fragment of
 * a datagram has ports. *seq_len is what a TCP segment takes of the sequence
 * space (payload, SYN and FIN): 0 for a pure ACK, which nothing retransmits.
 */
static __always_inline bool packet_tuple(const struct sk_buff *skb, struct bp_tuple *t, __u32 *seq_len,
					 __u8 *tcp_flags)
{
	unsigned char *head = skb->head;
	__u16 proto = bpf_ntohs(skb->protocol);
	__u16 nh = skb->network_header;
	__u32 th_off, ip_len;
	__u8 l4;

	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh) || ip.version != 4)
			return false;
		t->family = AF_INET;
		__builtin_memcpy(t->saddr, &ip.saddr, 4);
		__builtin_memcpy(t->daddr, &ip.daddr, 4);
		l4 = ip.protocol;
		th_off = nh + ip.ihl * 4;
		ip_len = bpf_ntohs(ip.tot_len) - ip.ihl * 4;
		if (bpf_ntohs(ip.frag_off) & IP_OFFSET)
			l4 = 0; /* a later fragment: no ports in it */
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh) || ip6.version != 6)
			return false;
		t->family = AF_INET6;
		__builtin_memcpy(t->saddr, &ip6.saddr, 16);
		__builtin_memcpy(t->daddr, &ip6.daddr, 16);
		/* extension headers are not walked: such packets report their next header, without ports */
		l4 = ip6.nexthdr;
		th_off = nh + sizeof(ip6);
		ip_len = bpf_ntohs(ip6.payload_len);
	} else {
		return false;
	}
	t->protocol = l4;
	*seq_len = 0;
	if (l4 == IPPROTO_TCP) {
		struct tcphdr th;

		if (!bpf_probe_read_kernel(&th, sizeof(th), head + th_off)) {
			t->sport = bpf_ntohs(th.source);
			t->dport = bpf_ntohs(th.dest);
			if (ip_len > th.doff * 4)
				*seq_len = ip_len - th.doff * 4;
			*seq_len += th.syn + th.fin;
			*tcp_flags = ((__u8 *)&th)[13]; /* FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 */
		}
	} else if (l4 == IPPROTO_UDP) {
		__be16 ports[2];

		if (!bpf_probe_read_kernel(ports, sizeof(ports), head + th_off)) {
			t->sport = bpf_ntohs(ports[0]);
			t->dport = bpf_ntohs(ports[1]);
		}
	}
	return true;
}

/* The same tuple seen from this host's side: saddr is the local end. */
static __always_inline void local_view(struct bp_tuple *t, bool rx)
{
	__u8 a[16];
	__u16 p;

	if (!rx)
		return;
	__builtin_memcpy(a, t->saddr, 16);
	__builtin_memcpy(t->saddr, t->daddr, 16);
	__builtin_memcpy(t->daddr, a, 16);
	p = t->sport;
	t->sport = t->dport;
	t->dport = p;
}

/* Whether the agent marked the reason's slot a loss (drop_loss, written at load). */
static __always_inline bool is_loss(__u32 slot)
{
	struct bp_drop_loss *l;
	__u32 zero = 0;

	l = bpf_map_lookup_elem(&drop_loss, &zero);
	if (!l)
		return false;
	/* kept opaque to the compiler, which would otherwise drop the mask the verifier needs */
	barrier_var(slot);
	slot &= BP_DROP_REASON_SLOTS - 1;
	return (l->bits[(slot >> 6) & (BP_DROP_LOSS_WORDS - 1)] >> (slot & 63)) & 1;
}

/*
 * Remember a lost TCP segment as its flow's last local drop, for the
 * retransmit it will cause (see bpf/drop_cause.bpf.h); t as the packet
 * travelled.
 */
static __always_inline void remember_loss(const struct bp_tuple *t, __u32 reason, __u32 netns)
{
	struct bp_flow_drop d = {.ts_ns = bpf_ktime_get_ns(), .reason = reason, .netns = netns};
	struct bp_flow_key k = {};

	bp_flow_key_of(&k, t);
	bpf_map_update_elem(&flow_drops, &k, &d, BPF_ANY);
}

static __always_inline void count_drop(__u16 endpoint, __u8 direction, __u32 reason)
{
	__u32 slot = reason < BP_DROP_REASON_OTHER ? reason : BP_DROP_REASON_OTHER;
	__u32 idx = ((__u32)endpoint * BP_DIRS + direction) * BP_DROP_REASON_SLOTS + slot;
	__u64 *n;

	n = bpf_map_lookup_elem(&drop_stats, &idx);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * The endpoint of a socket known only by pointer: its cached match when it
 * has one made under the current rules, else false (the caller matches the
 * packet's headers instead).
 */
static __always_inline bool cached_endpoint(struct bp_attr *a)
{
	__u32 zero = 0, *genp;

	if (!a->info)
		return false;
	genp = bpf_map_lookup_elem(&endpoints_gen, &zero);
	if (a->info->rules_gen != (genp ? *genp : 0) + 1)
		return false;
	a->endpoint = a->info->endpoint;
	a->direction = a->info->direction;
	return true;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(handle_kfree_skb, struct sk_buff *skb, void *location)
{
	struct sock *rx_sk = NULL, *skb_sk;
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_tuple t = {};
	struct bp_event *e;
	bool have_tuple, rx;
	__u32 reason = 0, seq_len = 0, netns;
	__u8 flags = 0;

	if (bpf_core_field_exists(struct trace_event_raw_kfree_skb___bp, reason))
		reason = (__u32)ctx[2];
	if (bpf_core_field_exists(struct trace_event_raw_kfree_skb___bp, rx_sk))
		rx_sk = (struct sock *)ctx[3];
	/*
	 * skb->sk, the socket that sends it or that early demux found for it, is
	 * an RCU pointer the verifier lets no socket helper take: it serves as a
	 * sock_info key and for plain reads only.
	 */
	skb_sk = skb->sk;
	rx = skb->skb_iif != 0;

	have_tuple = packet_tuple(skb, &t, &seq_len, &flags);
	if (have_tuple && seq_len && t.protocol == IPPROTO_TCP &&
	    is_loss(reason < BP_DROP_REASON_OTHER ? reason : BP_DROP_REASON_OTHER)) {
		/* TCP clears skb->dev once a segment is queued to its socket: then the socket says */
		netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
		if (!netns && rx_sk)
			netns = rx_sk->__sk_common.skc_net.net->ns.inum;
		if (!netns && skb_sk)
			netns = skb_sk->__sk_common.skc_net.net->ns.inum;
		remember_loss(&t, reason, netns);
	}
	if (have_tuple)
		local_view(&t, rx);
	/*
	 * A socket's endpoint is the one its other events count under (its cached
	 * match); a packet without one is matched on its own headers.
	 */
	if (rx_sk) {
		bp_attribute(rx_sk, &a);
	} else {
		if (skb_sk)
			a.info = bp_sock_info(skb_sk, false);
		if (!cached_endpoint(&a) && have_tuple)
			bp_match_endpoint(&t, &a.endpoint, &a.direction);
	}
	count_drop(a.endpoint, a.direction, reason);

	st = bp_account(BP_KIND_DROP);
	if (!st)
		return 0;
	e = bp_reserve(st);
	if (!e)
		return 0;

	bp_fill_common(e, BP_KIND_DROP, false);
	if (rx_sk) {
		bp_fill_sock(e, rx_sk);
		e->tuple.protocol = bp_sk_protocol_btf(rx_sk);
	} else if (skb_sk) {
		e->state = skb_sk->__sk_common.skc_state;
		e->netns = skb_sk->__sk_common.skc_net.net->ns.inum;
		e->sock_cookie = skb_sk->__sk_common.skc_cookie.counter; /* 0 until someone asked for it */
	} else {
		e->flags |= BP_F_NO_SOCKET;
		e->netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	}
	/* the packet's own addresses: an unconnected UDP socket has no peer of its own */
	if (have_tuple)
		e->tuple = t;
	e->u.drop.location = (__u64)location;
	e->u.drop.reason = reason;
	e->u.drop.rx = rx;
	e->u.drop.ifindex = rx ? skb->skb_iif : BPF_CORE_READ(skb, dev, ifindex);
	bp_apply_attr(e, &a);
	bp_submit(st, e);
	return 0;
}

/*
 * The namespace a received packet is in. TCP has cleared skb->dev by the time
 * it frees a segment (it reuses the field, dev_scratch), but the packet keeps
 * its input route until then, and the route's device is in the namespace.
 */
static __always_inline __u32 skb_netns(const struct sk_buff *skb)
{
	struct dst_entry *dst;
	__u32 netns;

	netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	if (netns)
		return netns;
	/* skb_dst(): _skb_refdst without its SKB_DST_NOREF bit */
	dst = (struct dst_entry *)(BPF_CORE_READ(skb, _skb_refdst) & ~1UL);
	return dst ? BPF_CORE_READ(dst, dev, nd_net.net, ns.inum) : 0;
}

/*
 * Where tcp_rcv_state_process() lies in kernel text (array map `listen_site`,
 * written by the agent from /proc/kallsyms at load; zero: unknown, and the
 * overflow count below stays off).
 */
struct bp_listen_site {
	__u64 lo;
	__u64 hi;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_listen_site);
} listen_site SEC(".maps");

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/*
 * A SYN that finds its listener's accept queue full: tcp_conn_request()
 * counts TcpExtListenOverflows and returns 0 without queuing a request, and
 * tcp_rcv_state_process() then frees the SYN with consume_skb(), the very call
 * that frees an accepted SYN (net/ipv4/tcp_input.c). No drop reason, no
 * tracepoint of its own: the listener's queue tells the two apart, as the
 * kernel's own test does (sk_acceptq_is_full(): sk_ack_backlog >
 * sk_max_ack_backlog), read right after it. Counted under
 * TCP_LISTEN_OVERFLOW, the reason the kernel gives the other overflow, a
 * handshake's last ACK that finds the queue full (tcp_check_req(), v6.15+),
 * which reaches kfree_skb() and handle_kfree_skb.
 *
 * consume_skb fires for every packet freed as used, so everything else leaves
 * at the first comparison, on the caller's address.
 */
SEC("tp_btf/consume_skb")
int BPF_PROG(handle_consume_skb, struct sk_buff *skb, void *location)
{
	struct bp_listen_key k = {};
	struct bp_listen_site *site;
	struct bp_tuple t = {};
	struct sock *listener;
	__u32 zero = 0, seq_len, backlog, max;
	__u16 endpoint;
	__u8 flags = 0, direction;
	__u64 *addr;

	site = bpf_map_lookup_elem(&listen_site, &zero);
	if (!site || (__u64)location < site->lo || (__u64)location >= site->hi)
		return 0;
	if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW))
		return 0;
	if (!packet_tuple(skb, &t, &seq_len, &flags) || t.protocol != IPPROTO_TCP ||
	    (flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		return 0;
	k.netns = skb_netns(skb);
	k.port = t.dport;
	addr = bpf_map_lookup_elem(&listeners, &k);
	if (!addr)
		return 0;
	listener = (struct sock *)*addr;
	backlog = BPF_CORE_READ(listener, sk_ack_backlog);
	max = BPF_CORE_READ(listener, sk_max_ack_backlog);
	if (backlog <= max)
		return 0;
	local_view(&t, true);
	bp_match_endpoint(&t, &endpoint, &direction);
	count_drop(endpoint, direction, bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
