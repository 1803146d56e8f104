/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Wire format between the busprobe BPF programs and the Java agent.
 *
 * Every struct here crosses the kernel/user boundary: fixed-width types
 * only, explicit padding, and a _Static_assert on each size. The Java side
 * gets its layouts from this very header through jextract (see
 * jextract-bindings/), and a test (WireLayoutTest) checks each layout's
 * byteSize() against the BP_*_SIZE constants below and every field's offset
 * against this header's text, so C and Java cannot drift.
 *
 * This header is included both by BPF code (after vmlinux.h) and by plain C
 * (jextract, bench consumers), so it only uses <linux/types.h> types.
 */
#ifndef BUSPROBE_EVENTS_H
#define BUSPROBE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Event kinds. Values are part of the wire format: append, never renumber. */
enum bp_kind {
	BP_KIND_NONE              = 0,
	BP_KIND_RETRANSMIT        = 1, /* tcp:tcp_retransmit_skb */
	BP_KIND_RETRANSMIT_SYNACK = 2, /* tcp:tcp_retransmit_synack */
	BP_KIND_STATE             = 3, /* sock:inet_sock_set_state, TCP only */
	BP_KIND_RESET_SENT        = 4, /* tcp:tcp_send_reset */
	BP_KIND_RESET_RECEIVED    = 5, /* tcp:tcp_receive_reset */
	BP_KIND_RCVQUEUE_FULL     = 6, /* sock:sock_rcvqueue_full */
	BP_KIND_EXCEED_BUF_LIMIT  = 7, /* sock:sock_exceed_buf_limit */
	BP_KIND_RETRANSMIT_FAILED = 8, /* tcp:tcp_retransmit_skb, an attempt the kernel did not count */
	BP_KIND_DROP              = 9, /* skb:kfree_skb: a packet the kernel freed as dropped, with its reason */
	/*
	 * Size of the per-kind maps, with room to append kinds without changing
	 * it: the operator's `sampling` map is pinned across daemon restarts, and
	 * a daemon that finds one of another size has to migrate it.
	 */
	BP_KIND_MAX               = 16,
};

/*
 * What triggered a retransmission, told apart the way the kernel's own MIBs
 * tell them apart (net/ipv4/tcp_output.c, tcp_timer.c; see
 * bpf/tcp_retransmit.bpf.c for the call sites).
 */
enum bp_retrans_kind {
	BP_RETRANS_UNKNOWN = 0, /* none of the below, e.g. the data of an active Fast Open */
	BP_RETRANS_RTO     = 1, /* in TCP_CA_Loss: the timeout's head, then the queue (TCPSlowStartRetrans) */
	BP_RETRANS_FAST    = 2, /* a segment marked lost, outside Loss: the queue (TCPFastRetrans) */
	BP_RETRANS_TLP     = 3, /* the tail segment of tcp_send_loss_probe() (TCPLossProbes) */
	BP_RETRANS_SYN     = 4, /* a segment carrying SYN (TCPSynRetrans) */
	BP_RETRANS_SYNACK  = 5, /* tcp_rtx_synack() (TCPSynRetrans) */
	BP_RETRANS_KINDS   = 6, /* array sizes; keep last */
};

/* bp_event.flags */
#define BP_F_TASK_VALID  0x01 /* pid/comm are the task that owns the work */
#define BP_F_NO_SOCKET   0x02 /* tuple taken from the packet, no socket */
#define BP_F_OWNER       0x04 /* pid/comm/cgroup_id are the socket's owner, learned in process context */
#define BP_F_CAUSE       0x08 /* retransmit: this host dropped a packet of the flow shortly before (u.retransmit.cause_*) */

/* bp_event_exceed.mem_kind, mirrors SK_MEM_SEND / SK_MEM_RECV */
#define BP_MEM_SEND 0
#define BP_MEM_RECV 1

/*
 * Connection 4-tuple in host byte order for ports. IPv4 addresses sit in
 * the first 4 bytes of saddr/daddr, the rest is zero.
 */
struct bp_tuple {
	__u8  saddr[16];
	__u8  daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;   /* AF_INET (2), also for IPv4-mapped IPv6 sockets, or AF_INET6 (10) */
	__u16 protocol; /* IPPROTO_TCP, or the socket's protocol for pressure events */
};
#define BP_TUPLE_SIZE 40
_Static_assert(sizeof(struct bp_tuple) == BP_TUPLE_SIZE, "bp_tuple size");

struct bp_event_retransmit {
	__u32 segs;          /* tcp_skb_pcount(skb): what TcpRetransSegs added (retransmit) or would have */
	__u32 err;           /* 0 when sent; a negative errno (two's complement) when not */
	__u32 srtt_us;       /* tp->srtt_us >> 3 */
	__u32 snd_cwnd;
	__u32 total_retrans; /* tp->total_retrans after this one */
	__u8  retrans_kind;  /* enum bp_retrans_kind */
	__u8  ca_state;      /* icsk_ca_state */
	__u8  _pad[2];
	__u32 seq;           /* TCP_SKB_CB(skb)->seq: the first sequence number resent */
	__u32 end_seq;       /* TCP_SKB_CB(skb)->end_seq: one past the last (SYN and FIN count one) */
	__u64 topic;         /* tag of the send that carried seq (see bp_topic_name), 0: none known */
	__u32 cause_reason;  /* with BP_F_CAUSE: enum skb_drop_reason of the flow's last local drop */
	__u32 cause_netns;   /* with BP_F_CAUSE: the network namespace it was dropped in */
};

/*
 * The socket's own counters ride along on every state change of a full
 * socket, so the transition to CLOSE is a complete tcplife record.
 */
struct bp_event_state {
	__u8  old_state;
	__u8  new_state;
	__u8  _pad[2];
	__u32 total_retrans; /* tp->total_retrans */
	__u64 bytes_sent;    /* tp->bytes_sent (v5.3+), retransmissions included */
	__u64 bytes_received;/* tp->bytes_received */
	__u32 segs_out;      /* tp->segs_out */
	__u32 segs_in;       /* tp->segs_in */
	__u64 duration_ns;   /* since connect()/SYN, when busprobe saw the start; else 0 */
};

struct bp_event_reset {
	__u32 reason;        /* enum sk_rst_reason when sent (kernel >= 6.10), else 0 */
	__u32 _pad;
};

/*
 * A dropped packet (skb:kfree_skb). reason is the running kernel's
 * enum skb_drop_reason value: its numbering changes between releases, so the
 * agent names it from the kernel's own BTF, never from a table of its own.
 */
struct bp_event_drop {
	__u64 location;      /* the kernel text address that freed the packet (kfree_skb's caller) */
	__u32 reason;        /* enum skb_drop_reason; subsystem reasons keep their high 16 bits */
	__u32 ifindex;       /* the interface it arrived on (rx), else the one it was going out of, 0: none */
	__u8  rx;            /* 1: the packet was received (skb_iif set), 0: it was being sent */
	__u8  _pad[7];
};
#define BP_EVENT_DROP_SIZE 24
_Static_assert(sizeof(struct bp_event_drop) == BP_EVENT_DROP_SIZE, "bp_event_drop size");

struct bp_event_pressure {
	__u64 allocated;     /* exceed_buf_limit: protocol pages allocated */
	__u32 rmem_alloc;
	__u32 rcvbuf;        /* sk_rcvbuf */
	__u32 truesize;      /* rcvqueue_full: the skb that did not fit */
	__u32 wmem_queued;
	__u32 sndbuf;        /* sk_sndbuf */
	__u8  mem_kind;      /* BP_MEM_SEND / BP_MEM_RECV for exceed_buf_limit */
	__u8  _pad[3];
};

/* bp_event.direction, and the direction index of endpoint counters */
#define BP_DIR_NONE   0 /* matched no endpoint: the "other" bucket */
#define BP_DIR_CLIENT 1 /* this host connects to the endpoint */
#define BP_DIR_SERVER 2 /* this host serves the endpoint */
#define BP_DIRS       3

/* Endpoint ids: 0 is "other", configured endpoints are 1..BP_MAX_ENDPOINTS-1. */
#define BP_MAX_ENDPOINTS 64

/*
 * One ring-buffer record. Fixed size for every kind: the ring allocator
 * rounds to 8 bytes anyway, and one size keeps the reserve path branch-free.
 */
struct bp_event {
	__u64 ts_ns;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, same as System.nanoTime() */
	__u64 sock_cookie; /* bpf_get_socket_cookie(sk), 0 without a socket */
	__u64 cgroup_id;   /* cgroup (v2) of pid below */
	__u32 pid;         /* socket owner's tgid with BP_F_OWNER, else the current task's */
	__u32 tid;         /* current task's thread id */
	__u32 netns;       /* network namespace inode number */
	__u16 kind;        /* enum bp_kind */
	__u8  state;       /* TCP state of the socket (new state for BP_KIND_STATE) */
	__u8  flags;       /* BP_F_* */
	__u16 endpoint;    /* bus endpoint id, 0 = other */
	__u8  direction;   /* BP_DIR_* */
	__u8  _pad[5];
	__u8  comm[16];    /* owner's comm with BP_F_OWNER, else the current task's */
	struct bp_tuple tuple;
	union {
		struct bp_event_retransmit retransmit;
		struct bp_event_state      state;
		struct bp_event_reset      reset;
		struct bp_event_pressure   pressure;
		struct bp_event_drop       drop;
	} u;
};
#define BP_EVENT_SIZE 152
_Static_assert(sizeof(struct bp_event) == BP_EVENT_SIZE, "bp_event size");

/*
 * Exact per-kind counters (per-CPU array, key = enum bp_kind). Updated for
 * every tracepoint hit, whatever happens to the ring record:
 * seen = sampled_out + rate_limited + submitted + dropped.
 */
struct bp_kind_stats {
	__u64 seen;
	__u64 sampled_out;  /* kind switched off or thinned by 1-in-N */
	__u64 rate_limited; /* the token bucket said no */
	__u64 submitted;    /* records committed to the ring */
	__u64 dropped;      /* bpf_ringbuf_reserve() failed: ring full */
	__u64 segs;         /* retransmit kinds: sum of their segs (retransmit: what TcpRetransSegs added) */
};
#define BP_KIND_STATS_SIZE 48
_Static_assert(sizeof(struct bp_kind_stats) == BP_KIND_STATS_SIZE, "bp_kind_stats size");

/*
 * Retransmitted segments by trigger (per-CPU array `retrans_triggers`, key =
 * enum bp_retrans_kind): what the kernel added to TcpRetransSegs, and of that
 * what its own stack then failed to send (TCPRetransFail: a local firewall,
 * a full device queue). Attempts the kernel did not count at all are the
 * retransmit_failed kind's.
 */
struct bp_retrans_stats {
	__u64 segs;
	__u64 unsent_segs;
};
#define BP_RETRANS_STATS_SIZE 16
_Static_assert(sizeof(struct bp_retrans_stats) == BP_RETRANS_STATS_SIZE, "bp_retrans_stats size");

/* bp_sample_cfg.flags */
#define BP_SAMPLE_NO_AUTO 0x01 /* automatic degradation leaves this kind alone */

/*
 * Per-kind sampling setting (array maps `sampling`, written by the operator
 * through `busprobe sample`, and `sampling_auto`, written only by the daemon's
 * degradation controller; key = enum bp_kind). The kernel applies the stricter
 * of the two, so the operator's setting is a ceiling the automatic one never
 * exceeds, and neither writer ever touches the other's map.
 */
struct bp_sample_cfg {
	__u32 enabled;      /* 0: count only, never emit (ignored in sampling_auto) */
	__u32 every;        /* emit 1 in N hits; 0 and 1 both mean every hit */
	__u32 rate;         /* records per second, 0 = unlimited (for display; the kernel uses interval_ns) */
	__u32 burst;        /* token-bucket depth in records */
	__u64 interval_ns;  /* 1e9 / rate, 0 = unlimited: computed by the writer, no division in BPF */
	__u32 flags;        /* BP_SAMPLE_* */
	__u32 _pad;
};
#define BP_SAMPLE_CFG_SIZE 32
_Static_assert(sizeof(struct bp_sample_cfg) == BP_SAMPLE_CFG_SIZE, "bp_sample_cfg size");

/* Token-bucket state per kind (array map `sample_state`), GCRA form. */
struct bp_sample_state {
	__u64 tat_ns;       /* theoretical arrival time of the next record */
};
#define BP_SAMPLE_STATE_SIZE 8
_Static_assert(sizeof(struct bp_sample_state) == BP_SAMPLE_STATE_SIZE, "bp_sample_state size");

/* Ring wakeup policies (bp_settings.wakeup_policy). */
enum bp_wakeup {
	BP_WAKEUP_WATERMARK = 0, /* no wakeup until watermark bytes are pending */
	BP_WAKEUP_ALWAYS    = 1, /* kernel default: wake a caught-up consumer per record */
	BP_WAKEUP_NEVER     = 2, /* consumer polls on its own timer */
};

/* bp_settings.flags */
#define BP_SETTINGS_WATERMARK_SET 0x01 /* the operator chose wakeup_watermark; without it each daemon derives it from its ring */

/*
 * Global settings (array map `settings`, one entry). flags took the place of a
 * padding word, so a settings map pinned before it reads as flags 0: a
 * derived watermark, recomputed for the next daemon's ring.
 */
struct bp_settings {
	__u32 wakeup_policy;     /* enum bp_wakeup */
	__u32 wakeup_watermark;  /* bytes pending before a forced wakeup */
	__u32 emit;              /* global switch: 0 = no ring records at all, counters only */
	__u32 flags;             /* BP_SETTINGS_* */
};
#define BP_SETTINGS_SIZE 16
_Static_assert(sizeof(struct bp_settings) == BP_SETTINGS_SIZE, "bp_settings size");

/* bp_agent_state.flags */
#define BP_AGENT_DEGRADED 0x01 /* the controller has thinned at least one kind */

/* Outcome of the daemon's last endpoint reload (bp_agent_state.reload_result). */
enum bp_reload {
	BP_RELOAD_NONE       = 0, /* none since the daemon started */
	BP_RELOAD_OK         = 1, /* the file was read and its rules installed */
	BP_RELOAD_BAD_CONFIG = 2, /* the file was rejected; the running rules stay */
	BP_RELOAD_FAILED     = 3, /* the kernel refused a rule update; the rules may be partly updated */
};

#define BP_RELOAD_MESSAGE_LEN 256

/*
 * What the daemon publishes for `busprobe status` and `endpoints reload`
 * (array map `agent_state`, one entry), refreshed every 250 ms (the daemon's
 * tick). Written only from user space. Whether a daemon runs is not read
 * here but from its lock (see DaemonLock in Java): a crashed daemon's entry
 * stays as it was.
 */
struct bp_agent_state {
	__u32 pid;               /* the daemon's pid */
	__u32 flags;             /* BP_AGENT_* */
	__u64 heartbeat_ns;      /* CLOCK_MONOTONIC of the last refresh */
	__u64 started_ns;
	__u64 ring_size;
	__u64 ring_pending;      /* bytes not yet consumed at the last refresh */
	__u64 records_read[BP_KIND_MAX];
	__u32 probes_attached;   /* bit (1 << kind) per attached probe */
	__u32 reload_result;     /* enum bp_reload of the last endpoint reload */
	__u64 reload_started_ns; /* CLOCK_MONOTONIC at which that reload began; 0 before the first */
	__u32 endpoints;         /* endpoints of the running config */
	__u32 rules;             /* their port/prefix rules */
	__u8  reload_message[BP_RELOAD_MESSAGE_LEN]; /* the reload's verdict, one line of UTF-8, NUL-terminated */
};
#define BP_AGENT_STATE_SIZE 448
_Static_assert(sizeof(struct bp_agent_state) == BP_AGENT_STATE_SIZE, "bp_agent_state size");

/*
 * Bus endpoint rules (LPM trie `endpoints`, written by the agent). data is
 * port (big-endian) | family | address (16 bytes, IPv4 in the first 4) | pad;
 * a port-only rule has prefixlen 16, an address rule 16 + 8 + prefix length.
 */
struct bp_endpoint_key {
	__u32 prefixlen;
	__u8  data[20];
};
#define BP_ENDPOINT_KEY_SIZE 24
_Static_assert(sizeof(struct bp_endpoint_key) == BP_ENDPOINT_KEY_SIZE, "bp_endpoint_key size");
#define BP_ENDPOINT_KEY_BITS 152 /* port 16 + family 8 + address 128 */

/* Endpoint names for the CLI (array map `endpoint_names`, written by the daemon). */
struct bp_endpoint_name {
	__u8  name[32];
	__u32 bus;  /* bus type id, see BusType in Java */
	__u32 _pad;
};
#define BP_ENDPOINT_NAME_SIZE 40
_Static_assert(sizeof(struct bp_endpoint_name) == BP_ENDPOINT_NAME_SIZE, "bp_endpoint_name size");

#define BP_LIFETIME_SLOTS 32 /* log2 of microseconds: up to ~36 min, the last slot holds the rest */

/*
 * Exact per-endpoint, per-direction bus traffic (per-CPU array
 * `endpoint_stats`, key = endpoint * BP_DIRS + direction).
 */
struct bp_endpoint_stats {
	__u64 conn_opened;     /* reached ESTABLISHED */
	__u64 conn_closed;     /* closed after being established */
	__u64 conn_failed;     /* closed from SYN_SENT or SYN_RECV */
	__u64 bytes_sent;
	__u64 bytes_received;
	__u64 segs_out;
	__u64 segs_in;
	__u64 retrans_segs;    /* what the kernel added to TcpRetransSegs (SYN-ACKs included) */
	__u64 resets_sent;
	__u64 resets_received;
	__u64 pressure;        /* rcvqueue_full + exceed_buf_limit */
	__u64 lifetime_us_log2[BP_LIFETIME_SLOTS];
	__u64 retrans_trigger_segs[BP_RETRANS_KINDS]; /* retrans_segs by enum bp_retrans_kind */
};
#define BP_ENDPOINT_STATS_SIZE 392
_Static_assert(sizeof(struct bp_endpoint_stats) == BP_ENDPOINT_STATS_SIZE, "bp_endpoint_stats size");

/* Worst processes per endpoint (LRU hash `endpoint_procs`). */
struct bp_proc_key {
	__u16 endpoint;
	__u8  direction;
	__u8  _pad;
	__u32 tgid;
};
struct bp_proc_stats {
	__u64 retrans_segs;
	__u64 resets;
	__u8  comm[16];
};
#define BP_PROC_KEY_SIZE 8
#define BP_PROC_STATS_SIZE 32
_Static_assert(sizeof(struct bp_proc_key) == BP_PROC_KEY_SIZE, "bp_proc_key size");
_Static_assert(sizeof(struct bp_proc_stats) == BP_PROC_STATS_SIZE, "bp_proc_stats size");

/* Worst peers per endpoint (LRU hash `endpoint_peers`). */
struct bp_peer_key {
	__u16 endpoint;
	__u8  direction;
	__u8  family;
	__u8  addr[16];
};
struct bp_peer_stats {
	__u64 retrans_segs;
	__u64 resets;
};
#define BP_PEER_KEY_SIZE 20
#define BP_PEER_STATS_SIZE 16
_Static_assert(sizeof(struct bp_peer_key) == BP_PEER_KEY_SIZE, "bp_peer_key size");
_Static_assert(sizeof(struct bp_peer_stats) == BP_PEER_STATS_SIZE, "bp_peer_stats size");

/*
 * Topics: what a bus client's send carried (bpf/topic_send.bpf.c). The
 * endpoint's bus (bp_endpoint_name.bus, the ids of BusType in Java) selects
 * the parser.
 */
#define BP_BUS_KAFKA 1
#define BP_BUS_REDIS 2
#define BP_BUS_NATS  3

/* What a tagged request did; bp_topic_name.op. Part of the wire format: append only. */
enum bp_topic_op {
	BP_OP_NONE     = 0,
	BP_OP_COMMAND  = 1, /* Redis: any other command, the topic is its name */
	BP_OP_PUBLISH  = 2, /* Redis PUBLISH: the channel */
	BP_OP_SPUBLISH = 3, /* Redis SPUBLISH: the shard channel */
	BP_OP_XADD     = 4, /* Redis XADD: the stream */
	BP_OP_PUB      = 5, /* NATS PUB: the subject */
	BP_OP_HPUB     = 6, /* NATS HPUB: the subject */
	BP_OP_PRODUCE  = 7, /* Kafka Produce v3-v12: the topic's name */
	BP_OP_PRODUCE_ID = 8, /* Kafka Produce v13+ (KIP-516): the topic's ID, 16 bytes, not a name */
};

#define BP_TOPIC_LEN 48 /* bytes of a topic name kept; longer names are cut, and so share a tag */

/*
 * A topic's name, by its tag (hash map `topic_names`, key: the tag, a 64-bit
 * hash of op and name, bp_topic_tag() in topic.bpf.h; 0 is never a tag). Filled at the first send of the
 * tag; never deleted, full means new tags count as other.
 */
struct bp_topic_name {
	__u8  name[BP_TOPIC_LEN];
	__u8  op;           /* enum bp_topic_op */
	__u8  len;          /* bytes of name used */
	__u8  _pad[6];
};
#define BP_TOPIC_NAME_SIZE 56
_Static_assert(sizeof(struct bp_topic_name) == BP_TOPIC_NAME_SIZE, "bp_topic_name size");

/*
 * Per-topic counters of one endpoint and direction (per-CPU hash
 * `topic_stats`). Retransmitted segments of a send without a known tag, and of
 * tags that found the map full, go to the endpoint's `topic_other` slot (a
 * per-CPU array, key = endpoint * BP_DIRS + direction, value bp_topic_stats),
 * so that the sum over topics and other is the endpoint's retrans_segs.
 */
struct bp_topic_key {
	__u64 topic;
	__u16 endpoint;
	__u8  direction;
	__u8  _pad[5];
};
#define BP_TOPIC_KEY_SIZE 16
_Static_assert(sizeof(struct bp_topic_key) == BP_TOPIC_KEY_SIZE, "bp_topic_key size");

struct bp_topic_stats {
	__u64 retrans_segs; /* what the kernel added to TcpRetransSegs for this topic's bytes */
	__u64 bytes_sent;   /* bytes the application handed to the socket under this topic (not resent ones) */
};
#define BP_TOPIC_STATS_SIZE 16
_Static_assert(sizeof(struct bp_topic_stats) == BP_TOPIC_STATS_SIZE, "bp_topic_stats size");

/*
 * Exact drop counters (array map `drop_stats`, BPF_F_MMAPABLE: the agent reads
 * them straight from the mapped pages, no syscall per scrape). One __u64 per
 * (endpoint, direction, reason slot), at
 *   (endpoint * BP_DIRS + direction) * BP_DROP_REASON_SLOTS + slot.
 * The slot is the enum skb_drop_reason value, except that values from
 * BP_DROP_REASON_OTHER up (subsystem reasons carry the subsystem in their high
 * 16 bits, SKB_DROP_REASON_SUBSYS_MASK) all count in the BP_DROP_REASON_OTHER
 * slot. v6.18 has 129 core reasons, so a release may add over 100 before one
 * lands there.
 */
#define BP_DROP_REASON_SLOTS 256
#define BP_DROP_REASON_OTHER (BP_DROP_REASON_SLOTS - 1)
#define BP_DROP_STATS_ENTRIES (BP_MAX_ENDPOINTS * BP_DIRS * BP_DROP_REASON_SLOTS)

/*
 * Which reason slots are losses (array map `drop_loss`, one entry of
 * BP_DROP_LOSS_WORDS __u64, bit n of word n / 64 for slot n), written by the
 * agent at load from its one list of the reasons that are not (DropReasons in
 * Java): only a loss is remembered as the cause of a retransmit.
 */
#define BP_DROP_LOSS_WORDS 4
#define BP_DROP_LOSS_SIZE  32
_Static_assert(BP_DROP_LOSS_WORDS * 64 == BP_DROP_REASON_SLOTS, "a loss bit for every reason slot");

struct bp_drop_loss {
	__u64 bits[BP_DROP_LOSS_WORDS];
};
_Static_assert(sizeof(struct bp_drop_loss) == BP_DROP_LOSS_SIZE, "bp_drop_loss size");

#endif /* BUSPROBE_EVENTS_H */
