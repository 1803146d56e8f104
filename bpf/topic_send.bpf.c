// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Topic family, send side: at each write(), writev(), sendto() and sendmsg()
 * of a socket that is a client of a bus endpoint, read the first bytes of the
 * payload, parse the requests in it by the endpoint's bus, and remember which
 * range of the socket's sequence space carried which topic (bpf/topic.bpf.h).
 * tcp_retransmit_skb then charges each resent segment to its topic.
 *
 * The syscall tracepoints are the hook because they are the one that every
 * kernel has: kprobes and fentry may be compiled out (they are on the kernel
 * busprobe is tested on). At enter the payload is still the caller's and the
 * socket's write_seq is where its first byte will go; at exit the return
 * value says how many of its bytes the socket took.
 *
 * A write on anything else costs the file-table walk, one comparison, and,
 * for a TCP socket, one socket table lookup; its exit one hash miss.
 */
#include "vmlinux.h"
/* this object defines bp_topic_sub_note() (topic_sub.bpf.h) */
#define BP_TOPIC_SUB_NOTE
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"
#include "maps.bpf.h"
#include "sock.bpf.h"
#include "sock_info.bpf.h"
#include "topic.bpf.h"

/* Tag runs per send: consecutive requests of one topic are one run. */
#define BP_TOPIC_RUNS 8
/* Parser steps per send (a Redis PUBLISH takes four): bpf_loop's bound. */
#define BP_PARSE_STEPS 1024

/* A send between its enter and its exit: in its task's storage. */
struct bp_send_pending {
	__u64 sk;       /* 0: no send of a bus client's socket in progress */
	__u32 seq;      /* write_seq at enter: where the first byte goes */
	__u32 parsed;   /* end of the last request seen whole; valid with synced */
	__u32 count;    /* bytes offered; bytes_sent was charged for them at enter */
	__u16 endpoint;
	__u8  synced;   /* the parse reached the end of the payload at a request's end */
	__u8  nruns;
	__u32 run_end[BP_TOPIC_RUNS]; /* offsets in the payload; run i starts where i - 1 ends */
	__u64 run_topic[BP_TOPIC_RUNS];
};

/*
 * Task storage, not a hash keyed by pid_tgid: a thread's element is made at
 * its first send on a bus socket and lives as long as the thread, so each
 * send costs two lookups that take no lock, where the hash cost an update,
 * a lookup and a delete, each under a bucket lock. It also cannot fill up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct bp_send_pending);
} topic_pending SEC(".maps");

struct sys_enter_args___bp {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

struct sys_exit_args___bp {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

/* struct iovec and struct user_msghdr as user space lays them out (64-bit) */
struct iovec___bp {
	__u64 base;
	__u64 len;
};

struct user_msghdr___bp {
	__u64 name;
	__s32 namelen;
	__s32 _pad;
	__u64 iov;
	__u64 iovlen;
};

/*
 * The socket behind fd in the current task, or NULL. A file is a socket when
 * its private_data is a struct socket that points back at it: one read more
 * than the pointer itself, and no symbol needed (socket_file_ops is not a
 * ksym without CONFIG_KALLSYMS_ALL).
 */
static __always_inline const struct sock *fd_sock(__u64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *f = NULL;
	struct socket *sock;

	if (fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, file) != f)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/*
 * bp_resolve() for a socket found through the file table: an untyped pointer,
 * read with probe reads into the same tuple as bp_read_tuple() makes, so that
 * a JVM's socket (AF_INET6, talking IPv4 through ::ffff:a.b.c.d) matches the
 * IPv4 rules it matches everywhere else. The match is cached in the entry
 * (for every later send), so a wrong one here would stay wrong.
 */
static __always_inline void resolve_untyped(const struct sock *sk, struct bp_sock_info *info, __u32 gen)
{
	struct in6_addr saddr6 = {}, daddr6 = {};
	struct bp_tuple t = {};
	__u16 endpoint, family;
	__u8 direction;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&saddr6, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&daddr6, sk, __sk_common.skc_v6_daddr);
	}
	bp_tuple_addrs(&t, family, &saddr6, &daddr6, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr),
		       BPF_CORE_READ(sk, __sk_common.skc_daddr));
	bp_match_endpoint(&t, &endpoint, &direction);
	info->endpoint = endpoint;
	info->direction = direction;
	if (t.sport)
		info->rules_gen = gen;
}

/* The bus of a client socket's endpoint when busprobe parses it, else 0. */
static __always_inline __u32 client_bus(const struct sock *sk, __u16 *endpoint)
{
	struct bp_endpoint_name *name;
	struct bp_sock_info *info;
	__u32 zero = 0, *genp, gen, idx;

	info = bp_sock_info_untyped((__u64)sk);
	if (!info)
		return 0;
	genp = bpf_map_lookup_elem(&endpoints_gen, &zero);
	gen = (genp ? *genp : 0) + 1;
	if (info->rules_gen != gen)
		resolve_untyped(sk, info, gen);
	if (!info->endpoint || info->direction != BP_DIR_CLIENT)
		return 0;
	idx = info->endpoint;
	name = bpf_map_lookup_elem(&endpoint_names, &idx);
	if (!name)
		return 0;
	*endpoint = info->endpoint;
	/* before the socket can have a topic_ranges element: its close deletes it */
	if (!info->topics)
		info->topics = 1;
	return name->bus;
}

/* What the parser carries from step to step. */
struct parse {
	__u64 buf;       /* user address of the payload */
	__u32 count;     /* bytes of it that may be read */
	__u32 off;
	__u32 args_left; /* Redis: bulk strings of the current request still to come */
	__u32 argi;
	__u64 topic;
	__u8  op;
	__u8  name_len;
	__u8  state;     /* NATS: where in a line the parse is (enum nats_state) */
	__u8  subscribe; /* a subscription was seen: bp_topic_sub_note() looks at the send */
	__u8  _pad[4];
	__u32 subj_off;  /* NATS: where the current PUB's subject starts in the payload */
	__u32 req_start; /* where the current request starts in the payload */
	__u32 sub_off;   /* where the send's first subscription starts, with subscribe */
	__u32 _pad2;
	__u8  name[BP_TOPIC_LEN] __attribute__((aligned(8)));
	/*
	 * RESP: the first RESP_WINDOW bytes of a request, read at once. Twice
	 * that is room, so that a read of up to BP_TOPIC_LEN bytes at any
	 * offset the parse masks into the window stays inside it.
	 */
	__u8  win[2 * 64] __attribute__((aligned(8)));
	struct bp_send_pending p;
	/* each run's name, for topic_names when its tag is new: not cleared between sends */
	struct bp_topic_name run_name[BP_TOPIC_RUNS];
};

/*
 * The parser's state lives in a map value, not on the stack. The verifier
 * follows stack slots precisely (argi 0, 1, 2..., op, nruns), so with the
 * state on the stack every bpf_loop step looked new to it: 921,802 of the
 * 1,000,000 instructions it allows, four programs, 6 s of CPU at every
 * start. A map value's fields are unknown to it, and the step converges at
 * once. One per CPU: a tracepoint program runs to its end on one CPU. Each
 * step looks it up itself (bpf_loop's context must be a stack pointer on
 * older kernels).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parse);
} topic_parse SEC(".maps");

/* c->name[0..len) becomes the current request's topic, as op. */
static __always_inline void tag_name(struct parse *c, __u8 op, __u32 len)
{
	c->op = op;
	c->name_len = len;
	c->topic = bp_topic_tag(op, c->name, len);
}

/* One slot to pass a value through, so that the verifier forgets it (see opaque()). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} topic_scratch SEC(".maps");

/*
 * v, as a value the verifier does not know. A position found by a loop that
 * breaks is a different constant on each way out of it; followed further, each
 * would be a path of its own through the rest of the step, and the steps of
 * bpf_loop would never converge. A map value's contents are not tracked.
 */
static __always_inline __u32 opaque(__u32 v)
{
	__u32 zero = 0;
	/* volatile: the compiler must load it back, not reuse v */
	volatile __u64 *slot = bpf_map_lookup_elem(&topic_scratch, &zero);

	if (!slot)
		return 0;
	*slot = v;
	return (__u32)*slot;
}

/* Zero c->name past its first len (at most BP_TOPIC_LEN) bytes; returns len. */
static __always_inline __u32 mask_name(struct parse *c, __u32 len)
{
	__u64 *w = (__u64 *)c->name;

#pragma unroll
	for (int k = 0; k < BP_TOPIC_LEN / 8; k++) {
		__s32 left = (__s32)len - 8 * k;

		if (left <= 0)
			w[k] = 0;
		else if (left < 8)
			w[k] &= (1ULL << (left * 8)) - 1;
	}
	return len;
}

/*
 * Read len (at most BP_TOPIC_LEN) payload bytes at the current offset into
 * c->name, zero-padded. The read is of constant size, and the bytes past len
 * are masked off after it: a size the verifier had to follow would tie every
 * step's state to the parsed lengths, and the steps would never converge.
 * What lies past the name is the caller's own memory; only near the end of a
 * mapping is the short read tried.
 */
static __always_inline __u32 read_name(struct parse *c, __u32 len)
{
	if (len > BP_TOPIC_LEN)
		len = BP_TOPIC_LEN;
	if (bpf_probe_read_user(c->name, BP_TOPIC_LEN, (void *)(c->buf + c->off))) {
		__builtin_memset(c->name, 0, sizeof(c->name));
		if (len > 16 || bpf_probe_read_user(c->name, 16, (void *)(c->buf + c->off)))
			return 0;
	}
	return mask_name(c, len);
}

/*
 * The request that just ended (at c->off) joins the current run or starts
 * one; false when the runs are used up. A new run keeps its name: the send's
 * stats pass (charge_sent) gives it to topic_names if its tag is new.
 */
static __always_inline bool end_request(struct parse *c)
{
	struct bp_topic_name *rn;
	__u32 n = c->p.nruns;

	c->p.parsed = c->off;
	/* n is at most BP_TOPIC_RUNS (a power of two): the masks only tell the verifier */
	if (n > 0 && c->p.run_topic[(n - 1) & (BP_TOPIC_RUNS - 1)] == c->topic) {
		c->p.run_end[(n - 1) & (BP_TOPIC_RUNS - 1)] = c->off;
		return true;
	}
	if (n >= BP_TOPIC_RUNS)
		return false;
	n &= BP_TOPIC_RUNS - 1;
	c->p.run_end[n] = c->off;
	c->p.run_topic[n] = c->topic;
	c->p.nruns = n + 1;
	if (c->topic) {
		rn = &c->run_name[n];
		__builtin_memcpy(rn->name, c->name, sizeof(rn->name));
		rn->op = c->op;
		rn->len = c->name_len;
	}
	return true;
}

/* The first 8 bytes of name, case folded for letters (| 0x20 turns 'A'..'Z' into 'a'..'z') */
static __always_inline __u64 folded_word(const __u8 *name)
{
	__u64 w = 0;

	__builtin_memcpy(&w, name, 8);
	return w | 0x2020202020202020ULL;
}

/* The command whose name (len bytes) is in c->name: its op, and for any but PUBLISH, SPUBLISH and XADD its tag. */
static __always_inline void resp_command(struct parse *c, __u32 len)
{
	__u64 w = folded_word(c->name);

	/* little-endian words of "publish\0", "spublish", "xadd\0\0\0\0", folded (NULs become 0x20) */
	if (len == 7 && w == 0x206873696c627570ULL)
		c->op = BP_OP_PUBLISH;
	else if (len == 8 && w == 0x6873696c62757073ULL)
		c->op = BP_OP_SPUBLISH;
	else if (len == 4 && w == 0x2020202064646178ULL)
		c->op = BP_OP_XADD;
	else
		c->op = BP_OP_COMMAND;
	/* "subscrib", "ssubscri", "psubscri": SUBSCRIBE, SSUBSCRIBE, PSUBSCRIBE (topic_sub.bpf.h) */
	if (!c->subscribe && ((len == 9 && w == 0x6269726373627573ULL) ||
	    (len == 10 && (w == 0x6972637362757373ULL || w == 0x6972637362757370ULL)))) {
		c->subscribe = 1;
		c->sub_off = c->req_start;
	}
	/* PUBLISH, SPUBLISH and XADD are tagged by their second bulk string */
	if (c->op == BP_OP_COMMAND)
		tag_name(c, c->op, len);
}

/* Bytes of a request read at once at its start (a power of two). */
#define RESP_WINDOW 64
/* "*3\r\n$7\r\n" and "PUBLISH\r" folded (| 0x20 on every byte; \r becomes 0x2d), little-endian */
#define RESP_WORD_ARGS3_CMD7 0x0a0d37240a0d332aULL
#define RESP_WORD_PUBLISH    0x2d6873696c627570ULL

/* "<prefix><decimal>\r\n" at pos of c->win, of which avail bytes are the payload's: its length, or -1. */
static __always_inline int win_header(const struct parse *c, __u32 pos, __u32 avail, char prefix, __u32 *val)
{
	__u32 v = 0;

	if (pos + 4 > avail || c->win[pos & (RESP_WINDOW - 1)] != prefix)
		return -1;
	for (int i = 1; i < 12; i++) {
		__u32 at = pos + i;
		char ch;

		if (at + 1 >= avail)
			return -1;
		ch = c->win[at & (RESP_WINDOW - 1)];
		if (ch == '\r') {
			if (i == 1 || c->win[(at + 1) & (RESP_WINDOW - 1)] != '\n')
				return -1;
			*val = v;
			return i + 2;
		}
		if (ch < '0' || ch > '9' || i >= 10)
			return -1;
		v = v * 10 + (ch - '0');
	}
	return -1;
}

/* len (at most BP_TOPIC_LEN) bytes at pos of c->win become c->name, zero-padded. */
static __always_inline __u32 win_name(struct parse *c, __u32 pos, __u32 len)
{
	/*
	 * The mask only tells the verifier (pos < RESP_WINDOW, and win has room
	 * past it); barrier_var keeps the compiler from dropping it as a no-op.
	 */
	barrier_var(pos);
	__builtin_memcpy(c->name, &c->win[pos & (RESP_WINDOW - 1)], BP_TOPIC_LEN);
	return mask_name(c, len);
}

/*
 * A request's start, from one read of its first RESP_WINDOW bytes: its
 * "*<argc>" and each of its first three bulk strings whose header (and, for
 * the command and the topic, bytes) the window holds. A PUBLISH of a short
 * channel is one read here, where a step per token took six (four headers,
 * two names). Returns -1 when the window holds not even "*<argc>" (the step
 * parses it as before), else what the step returns: the next step goes on
 * where the window ended.
 */
static __always_inline long resp_window(struct parse *c)
{
	__u32 avail = c->count - c->off, start = c->off, pos, v, len;
	int h, k0;

	if (avail > RESP_WINDOW)
		avail = RESP_WINDOW;
	if (avail < 4 || bpf_probe_read_user(c->win, RESP_WINDOW, (void *)(c->buf + start)))
		return -1;
	c->topic = 0;
	c->req_start = start;
	if (avail >= 17 && *(__u64 *)&c->win[0] == RESP_WORD_ARGS3_CMD7 &&
	    (*(__u64 *)&c->win[8] | 0x2020202020202020ULL) == RESP_WORD_PUBLISH &&
	    c->win[15] == '\r' && c->win[16] == '\n') {
		/* the usual shape, "*3\r\n$7\r\nPUBLISH\r\n" in any case: two word compares for three tokens */
		c->op = BP_OP_PUBLISH;
		c->args_left = 2;
		c->argi = 1;
		k0 = 1;
		pos = 17;
	} else {
		h = win_header(c, 0, avail, '*', &v);
		if (h < 0 || v == 0 || v > 1024)
			return -1;
		c->args_left = v;
		c->argi = 0;
		k0 = 0;
		pos = h;
	}
	c->off = start + pos;
	for (int k = k0; k < 3; k++) {
		h = win_header(c, pos, avail, '$', &v);
		if (h < 0)
			return 0;
		/* one state for the verifier whatever the header's length */
		pos = opaque(pos + h);
		if (pos >= RESP_WINDOW)
			return 0;
		if (k == 0) {
			len = v < 16 ? v : 16;
			if (pos + len > avail)
				return 0;
			resp_command(c, win_name(c, pos, len));
		} else if (k == 1 && c->op != BP_OP_COMMAND) {
			len = v < BP_TOPIC_LEN ? v : BP_TOPIC_LEN;
			if (pos + len > avail)
				return 0;
			tag_name(c, c->op, win_name(c, pos, len));
		}
		c->off = start + pos + v + 2;
		c->argi++;
		c->args_left--;
		if (c->args_left == 0)
			return end_request(c) ? 0 : 1;
		/* the next header must lie in the window too */
		if (v + 2 >= avail - pos)
			return 0;
		pos += v + 2;
	}
	return 0;
}

/*
 * One step of RESP: a request's start (resp_window), else one token of it:
 * "*<argc>" or one of its "$<len>" bulk strings. The first bulk string is
 * the command; PUBLISH, SPUBLISH and XADD take their topic from the second
 * (channel, stream), other commands are tagged with their name. A bulk
 * string's body is skipped, not read, so it may lie past what was read: the
 * request's end is known anyway.
 */
static long resp_step(__u32 i, void *vctx)
{
	__u32 zero = 0;
	struct parse *c = bpf_map_lookup_elem(&topic_parse, &zero);
	__u32 n, v;
	long r;
	int h;

	if (!c)
		return 1;
	if (c->off >= c->count) {
		c->p.synced = c->args_left == 0;
		return 1;
	}
	if (c->args_left == 0) {
		r = resp_window(c);
		if (r >= 0)
			return r;
	}
	/*
	 * A constant size, whatever is left of the send: a size the verifier had
	 * to follow would tie it to c->off, and no two steps would look alike.
	 * Near the end of a mapping the short read is tried.
	 */
	n = c->count - c->off;
	if (n > 16)
		n = 16;
	/* the token goes into the window's first bytes, for win_header(), the one header parser */
	if (bpf_probe_read_user(c->win, 16, (void *)(c->buf + c->off))) {
		if (bpf_probe_read_user(c->win, 8, (void *)(c->buf + c->off)))
			return 1;
		if (n > 8)
			n = 8;
	}
	if (c->args_left == 0) {
		h = win_header(c, 0, n, '*', &v);
		if (h < 0 || v == 0 || v > 1024)
			return 1; /* an inline command or not RESP: the rest is untagged */
		c->req_start = c->off;
		c->off += h;
		c->args_left = v;
		c->argi = 0;
		c->topic = 0;
		return 0;
	}
	h = win_header(c, 0, n, '$', &v);
	if (h < 0)
		return 1;
	c->off += h;
	if (c->argi == 0)
		/* a command name is short: 16 bytes are enough to tell it */
		resp_command(c, read_name(c, v < 16 ? v : 16));
	else if (c->argi == 1 && c->op != BP_OP_COMMAND)
		tag_name(c, c->op, read_name(c, v));
	c->off += v + 2;
	c->argi++;
	c->args_left--;
	if (c->args_left == 0 && !end_request(c))
		return 1;
	return 0;
}

/*
 * NATS, the client protocol (nats-io docs, "Client Protocol"): every request
 * is one line, "<OP> <args>\r\n", and PUB and HPUB are followed by a payload
 * whose size is their last argument:
 *   PUB <subject> [reply-to] <#bytes>\r\n<payload>\r\n
 *   HPUB <subject> [reply-to] <#header bytes> <#total bytes>\r\n<headers+payload>\r\n
 * Ops are case-insensitive. A PUB or HPUB is tagged with its subject; any
 * other line (CONNECT, PING, SUB, ...) with topic 0, other's.
 */
enum nats_state {
	NATS_OP = 0, /* at a line's start */
	NATS_PUB,    /* in a PUB or HPUB line, after the op: subj_off is where the subject starts */
	NATS_SKIP,   /* in any other line */
};

/* Longest payload believed: the server's max_payload tops out at 64 MB. */
#define NATS_MAX_PAYLOAD (64U << 20)
/* "pub " and "hpub " as folded_word() reads them (little-endian, letters folded to lower case) */
#define NATS_WORD_PUB  0x20627570ULL
#define NATS_WORD_HPUB 0x2062757068ULL
#define NATS_WORD_SUB  0x20627573ULL

/* A line of topic 0 (CONNECT, PING, SUB, ...) ended at its \n, at. */
static __always_inline long nats_line_end(struct parse *c, __u32 at)
{
	c->topic = 0;
	c->op = BP_OP_NONE;
	c->off = at + 1;
	c->state = NATS_OP;
	return end_request(c) ? 0 : 1;
}

/*
 * The PUB or HPUB line whose \n is at nl: its subject (up to the first blank,
 * at most BP_TOPIC_LEN bytes kept) becomes the topic, and its last argument,
 * the payload's size, says where the request ends.
 */
static __always_inline long nats_pub_end(struct parse *c, __u32 nl)
{
	char tail[16] = {};
	__u32 len = BP_TOPIC_LEN, size = 0, mul = 1, from, end;
	bool digits = false;
	int k;

	/* the size: the digits before the \r\n, read from the 16 bytes that end at the \n */
	from = nl >= 15 ? nl - 15 : 0;
	if (from < c->subj_off)
		from = c->subj_off;
	end = nl - from; /* the \n's index in tail, at most 15 */
	if (end < 2 || end > 15 || bpf_probe_read_user(tail, sizeof(tail), (void *)(c->buf + from)))
		return 1;
	if (tail[(end - 1) & 15] != '\r')
		return 1;
	for (k = 2; k < 12; k++) {
		char ch;

		if ((__u32)k > end)
			break;
		ch = tail[(end - k) & 15];
		if (ch < '0' || ch > '9')
			break;
		size += (ch - '0') * mul;
		mul *= 10;
		digits = true;
	}
	if (!digits || size > NATS_MAX_PAYLOAD)
		return 1;

	/* the subject: its first bytes, cut at the first blank */
	c->off = c->subj_off;
	read_name(c, BP_TOPIC_LEN);
	for (k = 0; k < BP_TOPIC_LEN; k++) {
		__u8 ch = c->name[k];

		if (ch == ' ' || ch == '\t' || ch == '\r') {
			len = k;
			break;
		}
	}
	len = opaque(len);
	if (!len)
		return 1;
	tag_name(c, c->op, read_name(c, len));
	c->off = nl + 1 + size + 2;
	c->state = NATS_OP;
	return end_request(c) ? 0 : 1;
}

/*
 * One step of NATS. At a line's start, the op; then, 16 bytes a step, the
 * line's \n. A PUB or HPUB line is then parsed back from it; its payload is
 * skipped, not read.
 */
static long nats_step(__u32 i, void *vctx)
{
	__u32 zero = 0;
	struct parse *c = bpf_map_lookup_elem(&topic_parse, &zero);
	char tok[16] = {};
	__u32 n;
	__u64 w;
	int nl = -1;

	if (!c)
		return 1;
	if (c->off >= c->count) {
		c->p.synced = c->state == NATS_OP;
		return 1;
	}
	n = c->count - c->off;
	if (n > sizeof(tok))
		n = sizeof(tok);
	/* near the end of a mapping only the short read is tried, and only its bytes are parsed */
	if (bpf_probe_read_user(tok, sizeof(tok), (void *)(c->buf + c->off))) {
		if (bpf_probe_read_user(tok, 8, (void *)(c->buf + c->off)))
			return 1;
		if (n > 8)
			n = 8;
	}
	if (c->state == NATS_OP) {
		w = folded_word((const __u8 *)tok);
		if (n >= 4 && (w & 0xffffffffULL) == NATS_WORD_PUB) {
			c->op = BP_OP_PUB;
			c->subj_off = c->off + 4;
		} else if (n >= 5 && (w & 0xffffffffffULL) == NATS_WORD_HPUB) {
			c->op = BP_OP_HPUB;
			c->subj_off = c->off + 5;
		} else {
			if (n >= 4 && (w & 0xffffffffULL) == NATS_WORD_SUB && !c->subscribe) {
				c->subscribe = 1;
				c->sub_off = c->off;
			}
			c->state = NATS_SKIP;
			return 0;
		}
		c->state = NATS_PUB;
		c->off = c->subj_off;
		return 0;
	}
	for (int k = 0; k < sizeof(tok); k++) {
		if ((__u32)k < n && tok[k] == '\n') {
			nl = k;
			break;
		}
	}
	if (nl < 0) {
		c->off += n;
		return 0;
	}
	nl = opaque(nl);
	if (c->state == NATS_SKIP)
		return nats_line_end(c, c->off + nl);
	return nats_pub_end(c, c->off + nl);
}

/*
 * Kafka (the protocol guide, "Requests"; message specs ProduceRequest.json and
 * RequestHeader.json). Every request is an int32 size and that many bytes:
 *   int16 api_key, int16 api_version, int32 correlation_id,
 *   client_id (int16 length, -1 for null) [, tagged fields (flexible versions)]
 * and, for a Produce (api_key 0) of version 3 and later,
 *   transactional_id (nullable string), int16 acks, int32 timeout_ms,
 *   topic_data: an array of (name, partitions)
 * where Produce v9 and later are flexible: strings and arrays are compact
 * (an unsigned varint of length + 1, 0 for null) and the header has tagged
 * fields. A Produce is tagged with the name of its FIRST topic: a request
 * that carries several topics is charged to the first. Produce v13 and later
 * (KIP-516, kafka-clients 4.1+) name a topic by its ID, a 16-byte UUID where
 * the name was: the tag is the ID's (op BP_OP_PRODUCE_ID), and the agent
 * shows it as Kafka prints it. Produce v0-v2 and every other request
 * (Metadata, ApiVersions, ...) are topic 0, other. A request's
 * end is known from its size, so its body, records included, is skipped, not
 * read; one request is one step.
 */
#define KAFKA_PRODUCE 0
/* the largest request believed: the broker's socket.request.max.bytes defaults to 100 MB */
#define KAFKA_MAX_REQUEST (1U << 30)

/* an unsigned varint of at most 3 bytes (lengths under 2 MB) at b; its size in *n, 0 when not one */
static __always_inline __u32 kafka_uvarint(const __u8 *b, __u32 *n)
{
	__u32 v = b[0] & 0x7f;

	*n = 1;
	if (!(b[0] & 0x80))
		return v;
	v |= (__u32)(b[1] & 0x7f) << 7;
	*n = 2;
	if (!(b[1] & 0x80))
		return v;
	v |= (__u32)(b[2] & 0x7f) << 14;
	*n = 3;
	if (!(b[2] & 0x80))
		return v;
	*n = 0;
	return 0;
}

/* 8 payload bytes at pos (past the send's first buffer is not read: false) */
static __always_inline bool kafka_peek(struct parse *c, __u32 pos, __u8 *b)
{
	if (pos >= c->count || c->count - pos < 8)
		return false;
	return bpf_probe_read_user(b, 8, (void *)(c->buf + pos)) == 0;
}

/*
 * The first topic of the Produce whose header starts at c->off: its name (v3-v12) or its ID
 * (v13+, 16 bytes) in c->name, and that length; 0 for none.
 */
static __always_inline __u32 kafka_first_topic(struct parse *c, __u16 version, __u32 client_len)
{
	bool flexible = version >= 9;
	__u8 b[8] = {};
	__u32 pos, v, n, len;

	if (version < 3)
		return 0;
	pos = opaque(c->off + 14 + client_len);
	if (flexible) {
		/* the header's tagged fields: only none (a single 0) is skipped */
		if (!kafka_peek(c, pos, b) || b[0] != 0)
			return 0;
		pos += 1;
	}
	/* transactional_id */
	if (!kafka_peek(c, pos, b))
		return 0;
	if (flexible) {
		v = kafka_uvarint(b, &n);
		if (!n)
			return 0;
		pos += n + (v ? v - 1 : 0);
	} else {
		v = ((__u32)b[0] << 8) | b[1];
		pos += 2 + (v == 0xffff ? 0 : v);
	}
	/* acks, timeout_ms, then topic_data's count */
	pos = opaque(pos + 6);
	if (!kafka_peek(c, pos, b))
		return 0;
	if (flexible) {
		v = kafka_uvarint(b, &n);
		if (!n || v < 2)
			return 0;
		pos += n;
	} else {
		v = ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
		if (v == 0 || v > 0x7fffffff)
			return 0;
		pos += 4;
	}
	/* the first topic's ID: a uuid, 16 bytes with no length (v13+ are flexible) */
	if (version >= 13) {
		if (pos >= c->count || c->count - pos < 16)
			return 0;
		c->off = pos;
		return opaque(read_name(c, 16));
	}
	/* the first topic's name */
	if (!kafka_peek(c, pos, b))
		return 0;
	if (flexible) {
		len = kafka_uvarint(b, &n);
		if (!n || len < 2)
			return 0;
		len -= 1;
	} else {
		len = ((__u32)b[0] << 8) | b[1];
		n = 2;
		if (len == 0 || len == 0xffff)
			return 0;
	}
	pos = opaque(pos + n);
	if (pos >= c->count || c->count - pos < len)
		return 0;
	c->off = pos;
	return opaque(read_name(c, len));
}

static long kafka_step(__u32 i, void *vctx)
{
	__u32 zero = 0;
	struct parse *c = bpf_map_lookup_elem(&topic_parse, &zero);
	__u8 h[16] = {};
	__u32 size, start, end, client_len, len = 0;
	__u16 key, version;

	if (!c)
		return 1;
	if (c->off >= c->count) {
		c->p.synced = 1;
		return 1;
	}
	/* size, api_key, api_version, correlation_id, client_id's length: 14 bytes */
	if (c->count - c->off < 14 || bpf_probe_read_user(h, 14, (void *)(c->buf + c->off)))
		return 1;
	size = ((__u32)h[0] << 24) | ((__u32)h[1] << 16) | ((__u32)h[2] << 8) | h[3];
	key = ((__u16)h[4] << 8) | h[5];
	version = ((__u16)h[6] << 8) | h[7];
	client_len = ((__u32)h[12] << 8) | h[13];
	if (size < 10 || size > KAFKA_MAX_REQUEST || key > 1000 || version > 100)
		return 1; /* not a request's start: the rest is untagged */
	if (client_len == 0xffff)
		client_len = 0;
	start = c->off;
	end = opaque(start + 4 + size);
	c->topic = 0;
	c->op = BP_OP_NONE;
	if (key == KAFKA_PRODUCE && client_len < size) {
		c->op = BP_OP_PRODUCE;
		len = kafka_first_topic(c, version, client_len);
		if (len)
			tag_name(c, version >= 13 ? BP_OP_PRODUCE_ID : BP_OP_PRODUCE, len);
		else
			c->op = BP_OP_NONE;
	}
	c->off = end;
	return end_request(c) ? 0 : 1;
}

/*
 * Where the socket's last send left off: a request it did not finish goes on
 * at the start of this one, under its topic.
 */
static __always_inline void resume(struct parse *c, const struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct bp_topic_ring *ring = bpf_map_lookup_elem(&topic_ranges, &key);
	__u32 left;

	if (!ring || !ring->cont_left)
		return;
	left = ring->cont_left;
	c->p.run_end[0] = left;
	c->p.run_topic[0] = ring->cont_topic;
	c->p.nruns = 1;
	c->run_name[0].op = BP_OP_NONE; /* named by the send that began it */
	c->p.parsed = left;
	c->off = left;
	c->topic = ring->cont_topic;
}

/* The stats of a tag of this send on its endpoint; a new tag's name goes to topic_names first. */
static __always_inline struct bp_topic_stats *run_stats(struct parse *c, __u32 i)
{
	struct bp_topic_key key = {.topic = c->p.run_topic[i], .endpoint = c->p.endpoint,
				   .direction = BP_DIR_CLIENT};
	struct bp_topic_stats *ts;
	struct bp_topic_name *rn;

	if (!key.topic)
		return bp_topic_stats(c->p.endpoint, BP_DIR_CLIENT, 0);
	ts = bpf_map_lookup_elem(&topic_stats, &key);
	if (ts)
		return ts;
	/* a tag this endpoint has not counted yet: maybe new to topic_names too */
	rn = &c->run_name[i];
	if (rn->op != BP_OP_NONE && !bpf_map_update_elem(&topic_names, &key.topic, rn, BPF_NOEXIST) && rn->op == BP_OP_PRODUCE_ID) {
		__u32 zero = 0;
		__u64 *added = bpf_map_lookup_elem(&topic_ids_added, &zero);

		/* after the insert: a walk that starts after reading the old count finds it */
		if (added)
			__sync_fetch_and_add(added, 1);
	}
	return bp_topic_stats(c->p.endpoint, BP_DIR_CLIENT, key.topic);
}

/*
 * Charge each run's bytes of the send to its tag's bytes_sent now, as if the
 * socket took the whole send: one stats lookup per run, where the name check
 * at each run's start and the charge at exit took two. send_exit takes back
 * what the socket did not take.
 */
static __always_inline void charge_sent(struct parse *c)
{
	struct bp_topic_stats *ts;
	__u32 start = 0, end;

	for (int i = 0; i < BP_TOPIC_RUNS; i++) {
		if (i >= c->p.nruns || start >= c->count)
			break;
		end = c->p.run_end[i] < c->count ? c->p.run_end[i] : c->count;
		ts = run_stats(c, i);
		if (ts)
			__sync_fetch_and_add(&ts->bytes_sent, end - start);
		start = c->p.run_end[i];
	}
}

static __always_inline void send_enter(__u64 fd, __u64 buf, __u64 count)
{
	__u32 zero = 0;
	struct bp_send_pending *p;
	struct parse *c;
	const struct sock *sk;
	__u16 endpoint = 0;
	__u32 bus;

	if (!BP_ATTRIBUTION)
		return;
	sk = fd_sock(fd);
	if (!sk)
		return;
	bus = client_bus(sk, &endpoint);
	if (bus != BP_BUS_REDIS && bus != BP_BUS_NATS && bus != BP_BUS_KAFKA)
		return;
	c = bpf_map_lookup_elem(&topic_parse, &zero);
	if (!c)
		return;
	__builtin_memset(c, 0, offsetof(struct parse, run_name));
	c->buf = buf;
	c->count = count > 0xffffffffULL ? 0xffffffff : count;
	c->p.sk = (__u64)sk;
	c->p.count = c->count;
	c->p.endpoint = endpoint;
	c->p.seq = BPF_CORE_READ((const struct tcp_sock *)sk, write_seq);
	resume(c, sk);
	/* each step finds c in topic_parse */
	if (bus == BP_BUS_REDIS)
		bpf_loop(BP_PARSE_STEPS, resp_step, NULL, 0);
	else if (bus == BP_BUS_NATS)
		bpf_loop(BP_PARSE_STEPS, nats_step, NULL, 0);
	else
		bpf_loop(BP_PARSE_STEPS, kafka_step, NULL, 0);
	/* only a send whose parse saw a subscription pays for a look at it */
	if (c->subscribe)
		bp_topic_sub_note((__u64)sk, bus, endpoint, buf + c->sub_off, c->count - c->sub_off);
	p = bpf_task_storage_get(&topic_pending, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!p)
		return; /* no memory for the thread's element: the send goes untagged, and uncharged */
	charge_sent(c);
	*p = c->p;
}

/* The bytes of the run [start, run_end) within the first n of the send. */
static __always_inline __u32 run_bytes(__u32 start, __u32 run_end, __u32 n)
{
	__u32 end = run_end < n ? run_end : n;

	return end > start ? end - start : 0;
}

/*
 * ret bytes of the pending send went into the socket: their runs become
 * ranges, and each run's bytes_sent is set right where the socket took other
 * than the count that enter charged: less (a short or failed send), or more
 * (writev and sendmsg, of which only the first buffer is parsed and charged,
 * while a request's run goes on into the buffers after it).
 */
static __always_inline void record(struct bp_send_pending *p, __s64 ret)
{
	struct bp_topic_ring fresh = {}, *ring = NULL;
	struct bp_topic_stats *ts;
	__u32 took = ret > 0 ? (ret > 0xffffffffLL ? 0xffffffff : (__u32)ret) : 0;
	__u32 start = 0, charged, real, slot;
	__u64 cont_topic = 0;

	if (took) {
		ring = bpf_map_lookup_elem(&topic_ranges, &p->sk);
		if (!ring && p->nruns) {
			bpf_map_update_elem(&topic_ranges, &p->sk, &fresh, BPF_NOEXIST);
			ring = bpf_map_lookup_elem(&topic_ranges, &p->sk);
		}
	}
	for (int i = 0; i < BP_TOPIC_RUNS; i++) {
		if (i >= p->nruns)
			break;
		charged = run_bytes(start, p->run_end[i], p->count);
		real = run_bytes(start, p->run_end[i], took);
		if (real != charged) {
			ts = bp_topic_stats(p->endpoint, BP_DIR_CLIENT, p->run_topic[i]);
			/* a difference of two u32s, added as a u64 whose sum over CPUs wraps right */
			if (ts)
				__sync_fetch_and_add(&ts->bytes_sent, (__u64)(__s64)((__s64)real - (__s64)charged));
		}
		if (ring && real) {
			if (p->run_end[i] > took)
				cont_topic = p->run_topic[i];
			slot = ring->next++ % BP_TOPIC_RANGES;
			ring->r[slot].seq = p->seq + start;
			ring->r[slot].end = p->seq + start + real;
			ring->r[slot].topic = p->run_topic[i];
		}
		start = p->run_end[i];
	}
	if (!ring)
		return;
	if (p->synced && p->parsed > took) {
		ring->cont_left = p->parsed - took;
		ring->cont_topic = cont_topic;
	} else {
		ring->cont_left = 0;
	}
}

static __always_inline void send_exit(__s64 ret)
{
	struct bp_send_pending *p;

	p = bpf_task_storage_get(&topic_pending, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->sk)
		return;
	record(p, ret);
	p->sk = 0;
}

SEC("tp/syscalls/sys_enter_write")
int handle_sys_enter_write(struct sys_enter_args___bp *ctx)
{
	send_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendto")
int handle_sys_enter_sendto(struct sys_enter_args___bp *ctx)
{
	send_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

/* Vectored sends: the first buffer is parsed, what follows it is not tagged. */
SEC("tp/syscalls/sys_enter_writev")
int handle_sys_enter_writev(struct sys_enter_args___bp *ctx)
{
	struct iovec___bp iov = {};

	if (!ctx->args[2] || bpf_probe_read_user(&iov, sizeof(iov), (void *)ctx->args[1]))
		return 0;
	send_enter(ctx->args[0], iov.base, iov.len);
	return 0;
}

SEC("tp/syscalls/sys_enter_sendmsg")
int handle_sys_enter_sendmsg(struct sys_enter_args___bp *ctx)
{
	struct user_msghdr___bp msg = {};
	struct iovec___bp iov = {};

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)ctx->args[1]) || !msg.iovlen ||
	    bpf_probe_read_user(&iov, sizeof(iov), (void *)msg.iov))
		return 0;
	send_enter(ctx->args[0], iov.base, iov.len);
	return 0;
}

SEC("tp/syscalls/sys_exit_write")
int handle_sys_exit_write(struct sys_exit_args___bp *ctx)
{
	send_exit(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendto")
int handle_sys_exit_sendto(struct sys_exit_args___bp *ctx)
{
	send_exit(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_writev")
int handle_sys_exit_writev(struct sys_exit_args___bp *ctx)
{
	send_exit(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_sendmsg")
int handle_sys_exit_sendmsg(struct sys_exit_args___bp *ctx)
{
	send_exit(ctx->ret);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
