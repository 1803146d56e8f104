/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Bus endpoint rules: the LPM trie the agent fills from the endpoint config,
 * its generation, the names for the CLI, and matching a tuple against them.
 * BPF side only.
 */
#ifndef BUSPROBE_ENDPOINT_BPF_H
#define BUSPROBE_ENDPOINT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

/*
 * bench/attribution-cost builds a variant with -DBP_NO_ATTRIBUTION to measure
 * what attribution and labelling cost per event; never shipped.
 */
#ifdef BP_NO_ATTRIBUTION
#define BP_ATTRIBUTION 0
#else
#define BP_ATTRIBUTION 1
#endif

/*
 * Generation of the endpoint rules (one entry), bumped by the agent after
 * every change of `endpoints`: a socket's cached match is redone on its next
 * event that needs it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} endpoints_gen SEC(".maps") __weak;

/* Endpoint rules, longest prefix wins; see struct bp_endpoint_key. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	/* twice the config's 4096 rules: a reload adds the new rules before removing the old */
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bp_endpoint_key);
	__type(value, __u32);
} endpoints SEC(".maps") __weak;

/* Written by the daemon for the CLI; never touched by BPF code. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct bp_endpoint_name);
} endpoint_names SEC(".maps") __weak;

/*
 * The ports that some rule names, one bit each: word port / 64, bit port % 64.
 * Every rule includes all 16 bits of its port (the key's first two bytes,
 * see LpmEntry in the agent), so a port whose bit is clear matches no rule,
 * and its trie lookup is skipped: most of a host's connections are no bus's,
 * and a trie lookup walks nodes (about 75 ns here, two per socket), while
 * this is an inlined array load. The agent sets a new rule's port before the
 * rule goes in and clears a port after its last rule went out
 * (EndpointMaps.install), so the set always holds every port in the trie.
 */
#define BP_PORT_WORDS (65536 / 64)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BP_PORT_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} endpoint_ports SEC(".maps") __weak;

static __always_inline bool bp_port_has_rules(__u16 port)
{
	__u32 word = port >> 6;
	__u64 *bits = bpf_map_lookup_elem(&endpoint_ports, &word);

	return bits && ((*bits >> (port & 63)) & 1);
}

static __always_inline __u32 bp_lookup_rule(__u16 port, __u16 family, const __u8 *addr)
{
	struct bp_endpoint_key key = {};
	__u32 *id;

	if (!bp_port_has_rules(port))
		return 0;
	key.prefixlen = BP_ENDPOINT_KEY_BITS;
	key.data[0] = port >> 8;
	key.data[1] = port & 0xff;
	key.data[2] = family;
	__builtin_memcpy(&key.data[3], addr, 16);
	id = bpf_map_lookup_elem(&endpoints, &key);
	return id ? *id : 0;
}

/* The remote side names an endpoint we are a client of; else the local side one we serve. */
static __always_inline void bp_match_endpoint(const struct bp_tuple *t, __u16 *endpoint, __u8 *direction)
{
	__u32 id;

	if (!BP_ATTRIBUTION) {
		*endpoint = 0;
		*direction = BP_DIR_NONE;
		return;
	}
	id = bp_lookup_rule(t->dport, t->family, t->daddr);
	if (id) {
		*endpoint = id;
		*direction = BP_DIR_CLIENT;
		return;
	}
	id = bp_lookup_rule(t->sport, t->family, t->saddr);
	if (id) {
		*endpoint = id;
		*direction = BP_DIR_SERVER;
		return;
	}
	*endpoint = 0;
	*direction = BP_DIR_NONE;
}

#endif /* BUSPROBE_ENDPOINT_BPF_H */
