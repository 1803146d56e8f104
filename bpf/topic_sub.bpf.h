/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Topics, receive side: which channel or subject a bus client socket
 * subscribed to (seen at its send, bp_topic_sub_note() from
 * topic_send.bpf.c), and how much of what the broker pushed to it waits
 * unread (sampled by the traffic refresh, bp_topic_sub_sample() from
 * refresh_tcp_traffic in tcp_state.bpf.c): slow-consumer detection.
 *
 * One topic per socket: its FIRST subscription's first channel or subject.
 * A socket that subscribes to several has its whole receive queue charged to
 * that first one (the queue holds messages of all of them, and which bytes
 * are whose is not known without reading them); `subscriptions` counts the
 * subscription requests seen, so that such a socket can be told apart.
 *
 * Included at the end of topic.bpf.h, whose maps (topic_sub, topic_names) and
 * bp_topic_tag() it uses.
 */
#ifndef BUSPROBE_TOPIC_SUB_BPF_H
#define BUSPROBE_TOPIC_SUB_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "topic.bpf.h"

/* Bytes read where a subscription starts: a RESP SUBSCRIBE's header up to its channel's length fits. */
#define BP_SUB_HEAD 32

/*
 * The parse's buffers and results: in a map value, where a bounded variable
 * offset is always allowed, and whose contents the verifier does not follow.
 * The parsers leave the name's place in off and len: each length a parse can
 * end with would otherwise be a path of its own through the name's masking
 * and hashing, past the verifier's 1M instructions.
 */
struct bp_sub_scratch {
	__u8 head[BP_SUB_HEAD];
	struct bp_topic_name name; /* the topic's name as topic_names keeps it */
	__u32 off;                 /* where the name starts in the payload */
	__u32 len;                 /* its length */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bp_sub_scratch);
} topic_sub_scratch SEC(".maps") __weak;

/* Folded (letters to lower case) byte; what is not a letter is left alone. */
static __always_inline __u8 bp_sub_fold(__u8 ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch | 0x20 : ch;
}

/*
 * "<prefix><decimal>\r\n" at head[*pos]: its value, and *pos moved past it;
 * -1 when not one. At most 2 digits: a subscription whose argument count or
 * first channel's length has 3 or more (a channel of 100 bytes or more) is
 * not seen.
 */
static __always_inline int bp_sub_header(const __u8 *head, __u32 n, __u32 *pos, char prefix)
{
	__u32 p = *pos, v = 0;

	if (p + 4 > n || head[p & (BP_SUB_HEAD - 1)] != prefix)
		return -1;
	for (int i = 1; i <= 3; i++) {
		__u8 ch = head[(p + i) & (BP_SUB_HEAD - 1)];

		if (ch == '\r') {
			if (i == 1 || p + i + 1 >= n || head[(p + i + 1) & (BP_SUB_HEAD - 1)] != '\n')
				return -1;
			*pos = p + i + 2;
			return v;
		}
		if (ch < '0' || ch > '9' || i == 3)
			return -1;
		v = v * 10 + (ch - '0');
	}
	return -1;
}

/*
 * A RESP SUBSCRIBE, SSUBSCRIBE or PSUBSCRIBE at the start of head: its first
 * channel (a PSUBSCRIBE's pattern) starts at *off, *len bytes; the op its tag
 * is made with, so that a channel's subscribers and publishers share its tag
 * (PUBLISH for both SUBSCRIBE and PSUBSCRIBE, SPUBLISH for SSUBSCRIBE). 0:
 * not a subscription.
 */
static __always_inline __u8 bp_sub_resp(struct bp_sub_scratch *s, __u32 n)
{
	const __u8 *head = s->head;
	/* "ubscribe", little-endian: what follows the s of (s|p)subscribe, folded */
	const __u64 tail = 0x6562697263736275ULL;
	__u32 pos = 0;
	int args, cmd, chan;
	__u8 op = BP_OP_PUBLISH, first;

	args = bp_sub_header(head, n, &pos, '*');
	if (args < 2)
		return 0;
	cmd = bp_sub_header(head, n, &pos, '$');
	if (cmd != 9 && cmd != 10)
		return 0;
	if (pos + cmd + 2 > n)
		return 0;
	first = bp_sub_fold(head[pos & (BP_SUB_HEAD - 1)]);
	if (cmd == 10) {
		if (first == 's')
			op = BP_OP_SPUBLISH;
		else if (first != 'p')
			return 0;
		pos++;
		first = bp_sub_fold(head[pos & (BP_SUB_HEAD - 1)]);
	}
	if (first != 's')
		return 0;
	for (int i = 0; i < 8; i++)
		if (bp_sub_fold(head[(pos + 1 + i) & (BP_SUB_HEAD - 1)]) != (__u8)(tail >> (8 * i)))
			return 0;
	pos += 9 + 2;
	chan = bp_sub_header(head, n, &pos, '$');
	if (chan <= 0)
		return 0;
	s->off = pos;
	s->len = chan;
	return op;
}

/*
 * A NATS SUB at the start of head ("SUB <subject> [queue group] <sid>\r\n",
 * op case-insensitive): the subject starts at 4, and *len is its length up to
 * the first blank, as far as BP_TOPIC_LEN bytes (longer subjects are cut, as
 * the send side cuts them). Tagged as PUB, so that a subject's subscribers
 * and publishers share its tag. 0: not a SUB.
 */
static __always_inline __u8 bp_sub_nats(struct bp_sub_scratch *s, __u64 buf, __u32 n)
{
	volatile struct bp_sub_scratch *vs;
	const __u8 *head = s->head;
	__u32 l = BP_TOPIC_LEN;

	if (n < 6 || bp_sub_fold(head[0]) != 's' || bp_sub_fold(head[1]) != 'u' || bp_sub_fold(head[2]) != 'b' ||
	    (head[3] != ' ' && head[3] != '\t'))
		return 0;
	/* the subject is read whole into the name first, then cut at its first blank */
	if (bpf_probe_read_user(s->name.name, BP_TOPIC_LEN, (void *)(buf + 4)))
		return 0;
	for (int k = 0; k < BP_TOPIC_LEN; k++) {
		__u8 ch = s->name.name[k];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			l = k;
			break;
		}
	}
	/*
	 * Through the map value and back: each way out of the loop is a
	 * different constant l, and followed further each would be a path of its
	 * own through the rest of bp_topic_sub_note (past 1M instructions).
	 */
	vs = s;
	vs->len = l;
	l = vs->len;
	if (!l || l > n - 4)
		return 0;
	s->off = 4;
	s->len = l;
	return BP_OP_PUB;
}

/*
 * The subscription at buf (count bytes of a send on a bus client socket,
 * bus its endpoint's): the socket gets a topic_sub entry with its topic,
 * unless it has one (the first subscription stays its topic), and the
 * topic's name goes to topic_names. Called only for a send whose parse met a
 * subscription command, with buf where that request starts (c->subscribe and
 * c->sub_off in topic_send.bpf.c), so a publisher's sends pay nothing for
 * it, and a subscription after a CONNECT or PING in the same write is seen.
 *
 * A global function, verified once on its own with its arguments unknown:
 * inlined, or as a static subprogram (verified again for each state of the
 * caller that reaches the call), its branches multiplied by the send parse's
 * took the send programs to 695,000 of the verifier's 1,000,000 instructions
 * and two seconds of load each; as a global one they take about 40,000. Hence
 * scalar arguments only (sk is just the key), and a definition only where
 * BP_TOPIC_SUB_NOTE asks for one (topic_send.bpf.c), so that the objects the
 * linker joins do not each define it.
 */
#ifdef BP_TOPIC_SUB_NOTE
__noinline int bp_topic_sub_note(__u64 sk, __u32 bus, __u16 endpoint, __u64 buf, __u64 count)
{
	struct bp_topic_sub fresh = {}, *sub;
	struct bp_sub_scratch *s;
	__u64 key = sk, tag;
	volatile struct bp_sub_scratch *vs;
	__u32 zero = 0, n, off, len;
	__u8 op;

	if (count < 6 || (bus != BP_BUS_REDIS && bus != BP_BUS_NATS))
		return 0;
	s = bpf_map_lookup_elem(&topic_sub_scratch, &zero);
	if (!s)
		return 0;
	n = count < BP_SUB_HEAD ? count : BP_SUB_HEAD;
	__builtin_memset(s->head, 0, sizeof(s->head));
	/* near the end of a mapping, the short read */
	if (bpf_probe_read_user(s->head, BP_SUB_HEAD, (void *)buf)) {
		if (bpf_probe_read_user(s->head, 8, (void *)buf))
			return 0;
		n = n < 8 ? n : 8;
	}
	/* one compare keeps every other request (PUBLISH, PUB, PING...) as cheap as it was */
	if (bus == BP_BUS_REDIS)
		op = s->head[0] == '*' ? bp_sub_resp(s, n) : 0;
	else
		op = bp_sub_fold(s->head[0]) == 's' ? bp_sub_nats(s, buf, count > 0xffffffffULL ? 0xffffffff : count) : 0;
	if (!op)
		return 0;
	/* volatile: loaded back from the map value, unknown to the verifier (see bp_sub_scratch) */
	vs = s;
	off = vs->off;
	len = vs->len;
	sub = bpf_map_lookup_elem(&topic_sub, &key);
	if (sub) {
		__sync_fetch_and_add(&sub->subscriptions, 1);
		return 0;
	}
	if (len > BP_TOPIC_LEN)
		len = BP_TOPIC_LEN;
	__builtin_memset(&s->name, 0, sizeof(s->name));
	if (bpf_probe_read_user(s->name.name, BP_TOPIC_LEN, (void *)(buf + off)) &&
	    bpf_probe_read_user(s->name.name, 16, (void *)(buf + off)))
		return 0;
	/* only the name's own bytes: what follows it in the payload is masked off, a word at a time, as the send side does */
	for (int k = 0; k < BP_TOPIC_LEN / 8; k++) {
		__u64 *w = (__u64 *)&s->name.name[8 * k];
		__s32 left = (__s32)len - 8 * k;

		if (left <= 0)
			*w = 0;
		else if (left < 8)
			*w &= (1ULL << (left * 8)) - 1;
	}
	s->name.op = op;
	s->name.len = len;
	tag = bp_topic_tag(op, s->name.name, len);
	bpf_map_update_elem(&topic_names, &tag, &s->name, BPF_NOEXIST);
	fresh.topic = tag;
	fresh.endpoint = endpoint;
	fresh.subscriptions = 1;
	bpf_map_update_elem(&topic_sub, &key, &fresh, BPF_NOEXIST);
	return 0;
}
#endif /* BP_TOPIC_SUB_NOTE */

/*
 * Called by the traffic refresh (iter/tcp, which holds the socket's lock) for
 * every socket it visits: a subscriber's receive queue and offered window
 * now. A sample, not a count of events: what happened between two refreshes
 * is not seen, and a refresh that skips the socket's namespace (no segment
 * moved in it) leaves the last sample as it was. Sockets that never sent on a
 * bus (info->topics 0) cost nothing more than the test.
 */
static __always_inline void bp_topic_sub_sample(const struct tcp_sock *tp, const struct bp_sock_info *info)
{
	__u64 key = (__u64)tp;
	struct bp_topic_sub *sub;
	__u32 queue, window, unit;

	if (!info || !info->topics)
		return;
	sub = bpf_map_lookup_elem(&topic_sub, &key);
	if (!sub)
		return;
	/* as /proc/net/tcp's rx_queue and tcp_receive_window(): a negative difference is 0 */
	queue = tp->rcv_nxt - tp->copied_seq;
	if ((__s32)queue < 0)
		queue = 0;
	window = tp->rcv_wup + tp->rcv_wnd - tp->rcv_nxt;
	if ((__s32)window < 0)
		window = 0;
	/* tcp_select_window() advertises window >> rcv_wscale: below one unit the peer sees 0 */
	unit = 1U << (BPF_CORE_READ_BITFIELD(tp, rx_opt.rcv_wscale) & 15);
	sub->rcv_queue = queue;
	sub->rcv_window = window;
	sub->rcvbuf = tp->inet_conn.icsk_inet.sk.sk_rcvbuf;
	sub->zero_window = window < unit;
	if (window < unit)
		__sync_fetch_and_add(&sub->zero_samples, 1);
	sub->sampled_ns = bpf_ktime_get_ns();
}

#endif /* BUSPROBE_TOPIC_SUB_BPF_H */
