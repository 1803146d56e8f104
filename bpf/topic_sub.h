/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The receive side of topics: a bus client socket that subscribed (Redis
 * SUBSCRIBE, SSUBSCRIBE, PSUBSCRIBE; NATS SUB), the topic it subscribed to,
 * and its receive pressure as the traffic refresh last sampled it. Value of
 * the hash `topic_sub`, keyed by the sock pointer (see bpf/topic_sub.bpf.h).
 *
 * Not in events.h: nothing of it crosses the ring, and events.h is bound by
 * jextract. The agent reads it with a layout that TopicSubscribersTest checks
 * against this text (CLayout). Fixed-width types, explicit padding.
 */
#ifndef BUSPROBE_TOPIC_SUB_H
#define BUSPROBE_TOPIC_SUB_H

struct bp_topic_sub {
	__u64 topic;         /* tag of the socket's first subscription (its first channel or subject) */
	__u64 sampled_ns;    /* bpf_ktime_get_ns() of the last sample; 0: not sampled yet */
	__u32 rcv_queue;     /* rcv_nxt - copied_seq: bytes received, not yet read by the subscriber */
	__u32 rcv_window;    /* rcv_wup + rcv_wnd - rcv_nxt: the window the socket offers, bytes */
	__u32 rcvbuf;        /* sk_rcvbuf */
	__u32 subscriptions; /* subscription requests seen at the start of a send */
	__u32 zero_samples;  /* samples that found the offered window below one unit of its scale */
	__u16 endpoint;
	__u8  zero_window;   /* the last sample found it so */
	__u8  _pad;
};
#define BP_TOPIC_SUB_SIZE 40
_Static_assert(sizeof(struct bp_topic_sub) == BP_TOPIC_SUB_SIZE, "bp_topic_sub size");

#endif /* BUSPROBE_TOPIC_SUB_H */
