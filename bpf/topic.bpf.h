/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Topics: which sequence ranges of a bus client's socket carried which topic
 * (filled by bpf/topic_send.bpf.c at each send), and charging a retransmitted
 * segment to the topic whose bytes it resent. BPF side only.
 */
#ifndef BUSPROBE_TOPIC_BPF_H
#define BUSPROBE_TOPIC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"
#include "sock_info.bpf.h"
#include "topic_sub.h"

/* Ranges kept per socket: the last sends, oldest overwritten first. */
#define BP_TOPIC_RANGES 16

/* [seq, end) of one socket's byte stream carried topic. */
struct bp_topic_range {
	__u32 seq;
	__u32 end;
	__u64 topic;
};

/*
 * A socket's recent sends. A request the last send did not finish goes on in
 * the next one: cont_left of its bytes are still to come, under cont_topic.
 */
struct bp_topic_ring {
	__u32 next;
	__u32 cont_left;
	__u64 cont_topic;
	struct bp_topic_range r[BP_TOPIC_RANGES];
};

/*
 * Keyed by the sock pointer; only bus client sockets that sent a tagged
 * request have an entry (deleted at TCP_CLOSE, LRU for the ones that never
 * get there). Not BPF_MAP_TYPE_SK_STORAGE: the send side runs in classic
 * syscall tracepoints, which may not call bpf_sk_storage_get().
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct bp_topic_ring);
} topic_ranges SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct bp_topic_name);
} topic_names SEC(".maps") __weak;

/*
 * How many Kafka topic IDs (op BP_OP_PRODUCE_ID) topic_names has taken. The
 * daemon walks topic_names for IDs to name (KafkaTopicNames) only when this
 * moved: a walk of a full table is 65,536 key steps, too many every 5 s.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} topic_ids_added SEC(".maps") __weak;

/* Plain (not LRU): an evicted topic would take its counts with it, and the sum must stay exact. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct bp_topic_key);
	__type(value, struct bp_topic_stats);
} topic_stats SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BP_MAX_ENDPOINTS * BP_DIRS);
	__type(key, __u32);
	__type(value, struct bp_topic_stats);
} topic_other SEC(".maps") __weak;

/*
 * The bus client sockets that subscribed, keyed by the sock pointer: their
 * topic, and their receive pressure as the traffic refresh last sampled it
 * (bpf/topic_sub.bpf.h). Deleted at TCP_CLOSE with topic_ranges; LRU for the
 * ones whose close busprobe missed. Sized like topic_ranges.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct bp_topic_sub);
} topic_sub SEC(".maps") __weak;

/*
 * A topic's tag, from its op and its name zero-padded to BP_TOPIC_LEN bytes:
 * FNV-1a's step over the name a 64-bit word at a time (six multiplies, where
 * a byte at a time took fifty), then MurmurHash3's finalizer, so that every
 * bit of the name reaches every bit of the tag. The same work for every name,
 * so that the verifier sees one path, not one per length. One function for
 * the send side's parse and the subscriptions, so that a channel's
 * publishers and subscribers share its tag. b must be 8-byte aligned.
 */
static __always_inline __u64 bp_topic_tag(__u8 op, const __u8 *b, __u32 len)
{
	const __u64 *w = (const __u64 *)b;
	__u64 h = 0xcbf29ce484222325ULL ^ ((__u64)op << 8 | len);

#pragma unroll
	for (int i = 0; i < BP_TOPIC_LEN / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* The counters of (endpoint, direction, topic); the endpoint's other slot for topic 0 or a full map. */
static __always_inline struct bp_topic_stats *bp_topic_stats(__u16 endpoint, __u8 direction, __u64 topic)
{
	struct bp_topic_key key = {.topic = topic, .endpoint = endpoint, .direction = direction};
	struct bp_topic_stats fresh = {}, *ts;
	__u32 idx = (__u32)endpoint * BP_DIRS + direction;

	if (topic) {
		ts = bpf_map_lookup_elem(&topic_stats, &key);
		if (ts)
			return ts;
		/* another CPU may have made it meanwhile: look again whatever the update said */
		bpf_map_update_elem(&topic_stats, &key, &fresh, BPF_NOEXIST);
		ts = bpf_map_lookup_elem(&topic_stats, &key);
		if (ts)
			return ts;
	}
	return bpf_map_lookup_elem(&topic_other, &idx);
}

/* The topic whose bytes include seq on sk, 0 when none of its recent sends did. */
static __always_inline __u64 bp_topic_at(const struct sock *sk, __u32 seq)
{
	__u64 key = (__u64)sk;
	struct bp_topic_ring *ring;

	ring = bpf_map_lookup_elem(&topic_ranges, &key);
	if (!ring)
		return 0;
	for (int i = 0; i < BP_TOPIC_RANGES; i++) {
		struct bp_topic_range *r = &ring->r[i];

		/* wrap-safe: seq - r->seq counts forward from the range's start */
		if (seq - r->seq < r->end - r->seq)
			return r->topic;
	}
	return 0;
}

/*
 * Charge segs retransmitted segments starting at seq to their topic on a's
 * endpoint; returns the topic. Every segment the endpoint counts is charged
 * once, to a topic or to other, so the sum over topics is the endpoint's.
 * A segment resent as one GSO packet is charged whole to the topic of its
 * first byte.
 */
static __always_inline __u64 bp_topic_charge(const struct sock *sk, const struct bp_attr *a, __u32 seq, __u32 segs)
{
	struct bp_topic_stats *ts;
	__u64 topic = 0;

	if (!BP_ATTRIBUTION || !a->endpoint)
		return 0;
	if (a->direction == BP_DIR_CLIENT)
		topic = bp_topic_at(sk, seq);
	ts = bp_topic_stats(a->endpoint, a->direction, topic);
	if (ts)
		__sync_fetch_and_add(&ts->retrans_segs, segs);
	return topic;
}

/* Forget a closed socket's ranges and subscription: a new socket at the same address must not inherit them. */
static __always_inline void bp_topic_forget(const struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&topic_ranges, &key);
	bpf_map_delete_elem(&topic_sub, &key);
}

/*
 * Last, so that what it uses above is defined: the subscriptions, for the
 * send programs (topic_send.bpf.c) and the traffic refresh (tcp_state.bpf.c),
 * which include this header.
 */
#include "topic_sub.bpf.h"

#endif /* BUSPROBE_TOPIC_BPF_H */
