// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket-state family: sock:inet_sock_set_state, TCP sockets only; and the
 * connection bookkeeping that hangs off it: socket owners, per-endpoint
 * opens, closes, failures, lifetimes and traffic.
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
#include "listen.bpf.h"
#include "topic.bpf.h"

/*
 * Transitions that only a system call makes: connect() (CLOSE -> SYN_SENT),
 * listen() (CLOSE -> LISTEN), close()/shutdown() on an open connection
 * (ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK) and close() of a
 * listener (LISTEN -> CLOSE). A connecting socket closes on a reset too.
 * Everything else is driven by packets, usually in softirq.
 */
static __always_inline bool user_transition(int oldstate, int newstate)
{
	switch (newstate) {
	case TCP_SYN_SENT:
	case TCP_LISTEN:
		return oldstate == TCP_CLOSE;
	case TCP_FIN_WAIT1:
		return oldstate == TCP_ESTABLISHED || oldstate == TCP_SYN_RECV;
	case TCP_LAST_ACK:
		return oldstate == TCP_CLOSE_WAIT;
	case TCP_CLOSE:
		return oldstate == TCP_LISTEN;
	}
	return false;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 r = 0;

	/* unrolled, bounded: the verifier needs no loop */
#pragma unroll
	for (int i = 5; i >= 0; i--) {
		__u32 shift = 1u << i;

		if (v >> shift) {
			v >>= shift;
			r += shift;
		}
	}
	return r < BP_LIFETIME_SLOTS ? r : BP_LIFETIME_SLOTS - 1;
}

/*
 * When sk's connection opened, called at its ESTABLISHED: the kernel's own
 * per-socket TCP clock, tp->tcp_clock_cache. tcp_rcv_state_process()
 * refreshes it (tcp_mstamp_refresh()) for the segment that makes a socket
 * ESTABLISHED, the SYN-ACK or the handshake's last ACK, right before that
 * transition; and tcp_clock_ns() is ktime_get_ns(), the clock that
 * bpf_ktime_get_ns() reads at the close. One fine clock read fewer per
 * connection side, about 39 ns on a guest whose TSC reads are slow
 * (BENCHMARKS.md, "The open's time from the kernel's TCP clock"). A socket
 * that TCP_REPAIR made ESTABLISHED got there without a segment, so without
 * that refresh: it, and a cache never set, take a read of their own.
 * Lifetimes so run from ESTABLISHED to TCP_CLOSE, as tcplife's do (its
 * birth timestamp is rewritten at every state below FIN_WAIT1).
 */
static __always_inline __u64 bp_opened_ns(const struct tcp_sock *tp)
{
	__u64 t = tp ? tp->tcp_clock_cache : 0;

	if (!t || BPF_CORE_READ_BITFIELD(tp, repair))
		return bpf_ktime_get_ns();
	return t;
}

/* Transitions the endpoint counters count: opened, failed, closed. */
static __always_inline bool counted_transition(int oldstate, int newstate)
{
	if (newstate == TCP_ESTABLISHED)
		return oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV;
	return newstate == TCP_CLOSE && oldstate != TCP_LISTEN;
}

/*
 * Per-endpoint connection accounting; returns the lifetime in ns when known.
 * A close and its lifetime count where the open was counted, even when a
 * reload has matched the socket elsewhere since, so that opened - closed
 * (the live connections) stays true per endpoint; its traffic follows the
 * current rules. Where and whether the open was counted is in the socket's
 * base, which the socket table cannot evict. slot: sk's, when its entry is
 * in one.
 */
static __always_inline __u64 count_connection(const struct sock *sk, struct bp_attr *a, int oldstate,
					      int newstate, struct bp_sock_slot *slot)
{
	struct bp_endpoint_stats *es = bp_endpoint_stats(a), *cs;
	struct bp_sock_base *base;
	struct bp_attr opened = {};
	bool in_slot = false;
	__u64 life = 0;

	if (!es)
		return 0;
	if (newstate == TCP_ESTABLISHED) {
		struct tcp_sock *tp = bpf_skc_to_tcp_sock((void *)sk);

		/*
		 * Counted only with a base to remember it: a connection whose base
		 * could not be allocated counts neither open nor close, rather than
		 * an open that no close would ever match. Without storage (the
		 * common case) the base is the slot's, filled whole (any base in
		 * it is one a missed close left): no allocation, no lookup after.
		 */
		if (slot && !bpf_sk_storage_get(&sock_base, (struct sock *)sk, NULL, 0)) {
			base = &slot->base;
			base->start_ns = bp_opened_ns(tp);
			base->bytes_sent_rep = 0;
			base->bytes_received_rep = 0;
			base->segs_out_rep = 0;
			base->segs_in_rep = 0;
			base->total_retrans_rep = tp ? tp->total_retrans : 0;
			base->opened_endpoint = a->endpoint;
			base->opened_direction = a->direction;
			base->flags = BP_BASE_INIT | BP_BASE_OPENED | BP_BASE_IN_TABLE;
			slot->flags |= BP_SLOT_BASE;
			__sync_fetch_and_add(&es->conn_opened, 1);
			return 0;
		}
		base = bp_sock_base(sk, true);
		bp_base_seen(base, a->info);
		/* a SYN_RECV child's count moved after its start (see handle_inet_sock_set_state) */
		if (base)
			base->total_retrans_rep = tp ? tp->total_retrans : 0;
		if (base && !(base->flags & BP_BASE_OPENED)) {
			base->start_ns = bp_opened_ns(tp);
			__sync_fetch_and_add(&es->conn_opened, 1);
			base->opened_endpoint = a->endpoint;
			base->opened_direction = a->direction;
			base->flags |= BP_BASE_OPENED;
		}
	} else if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV) {
		__sync_fetch_and_add(&es->conn_failed, 1);
	} else {
		/*
		 * Only a connection whose open was counted (here, or by the seeding
		 * at start, see refresh_tcp_traffic) counts a close: one that opened
		 * before the daemon and closed before the seeding reached it counts
		 * neither, so that live = opened - closed never goes below the truth.
		 */
		/* a close comes from an open state: a slot's base holds (bp_sock_base_in()) */
		if (slot && (slot->flags & BP_SLOT_BASE)) {
			base = &slot->base;
			in_slot = true;
		} else {
			base = bp_sock_base_in(sk, false, &in_slot);
		}
		bp_base_seen(base, a->info);
		if (base && (base->flags & BP_BASE_OPENED)) {
			opened.endpoint = base->opened_endpoint;
			opened.direction = base->opened_direction;
			cs = bp_endpoint_stats(&opened);
			if (!cs)
				cs = es;
			__sync_fetch_and_add(&cs->conn_closed, 1);
			if (base->start_ns) {
				__u64 now = bpf_ktime_get_ns();
				__u32 slot;

				life = now > base->start_ns ? now - base->start_ns : 0;
				slot = log2_slot(life / 1000);
				__sync_fetch_and_add(&cs->lifetime_us_log2[slot & (BP_LIFETIME_SLOTS - 1)], 1);
			}
		}
		bp_add_traffic(es, sk, base);
		/*
		 * Nothing is counted of a closed socket any more; tcp_disconnect()
		 * zeroes its counters after this transition, and a reconnect starts
		 * from a fresh base. A slot's base goes with its slot (bp_forget()).
		 */
		if (base && !in_slot)
			__builtin_memset(base, 0, sizeof(*base));
	}
	return life;
}

/*
 * Most transitions of a connection (FIN_WAIT1 -> FIN_WAIT2, ESTABLISHED ->
 * CLOSE_WAIT, ...) neither start it, nor are made by its owner, nor move an
 * endpoint counter: with their record sampled out they cost the kind
 * counters only. The socket table is touched only by transitions that need
 * it, and the endpoint is resolved only when a counter or a record uses it.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct bp_sock_slot *slot = NULL;
	struct bp_sock_info fresh = {};
	struct tcp_sock *tp;
	struct bp_kind_stats *st;
	struct bp_attr a = {};
	struct bp_event *e;
	bool user, counted, topics;
	__u64 life = 0;

	if (bp_sk_protocol_btf(sk) != IPPROTO_TCP)
		return 0;
	bp_note_listener(sk, oldstate, newstate);
	user = user_transition(oldstate, newstate);
	counted = counted_transition(oldstate, newstate);
	st = bp_account(BP_KIND_STATE);

	/* learn the socket where its start is seen: connect() in the owner's context, the SYN in softirq */
	if ((newstate == TCP_SYN_SENT && oldstate == TCP_CLOSE) ||
	    (newstate == TCP_SYN_RECV && oldstate == TCP_LISTEN)) {
		bp_start(sk, newstate == TCP_SYN_SENT, &fresh);
		if (st && BP_ATTRIBUTION)
			a.info = &fresh; /* the record's owner; what bp_resolve() caches in it is dropped */
	} else if (user && newstate != TCP_LISTEN && newstate != TCP_CLOSE) {
		a.info = bp_learn_current(sk); /* also a connection older than the agent */
	} else if (counted || st) {
		/* a socket that lives on (ESTABLISHED) keeps its match; one that closes needs none kept */
		a.info = bp_sock_info_slot(sk, newstate == TCP_ESTABLISHED, &slot);
	}
	/*
	 * tcp_create_openreq_child() sets a child's total_retrans to its request's
	 * SYN-ACK retransmits after the clone that bp_start() saw: those were
	 * counted as retransmit_synack, so take the child's count as it is now.
	 */
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED && a.info)
		a.info->total_retrans_rep = bp_total_retrans(sk);
	if (counted || st)
		bp_resolve(sk, &a);
	if (counted)
		life = count_connection(sk, &a, oldstate, newstate, slot);

	if (st && (e = bp_reserve(st))) {
		bp_fill_common(e, BP_KIND_STATE, user);
		bp_fill_sock(e, sk);
		e->tuple.protocol = IPPROTO_TCP;
		/* fired from tcp_set_state() before the new state is stored */
		e->state = newstate;
		e->u.state.old_state = oldstate;
		e->u.state.new_state = newstate;
		tp = bpf_skc_to_tcp_sock((void *)sk);
		if (tp) {
			e->u.state.total_retrans = tp->total_retrans;
			e->u.state.bytes_sent = tp->bytes_sent;
			e->u.state.bytes_received = tp->bytes_received;
			e->u.state.segs_out = tp->segs_out;
			e->u.state.segs_in = tp->segs_in;
		}
		e->u.state.duration_ns = life;
		bp_apply_attr(e, &a);
		bp_submit(st, e);
	}
	if (newstate != TCP_CLOSE)
		return 0;
	/* only bus clients' sends are tagged (see topic_send.bpf.c), and only where the entry says they may be */
	topics = a.endpoint && a.direction == BP_DIR_CLIENT && (!a.info || a.info->topics);
	if (a.info)
		bp_forget(sk, slot);
	if (topics)
		bp_topic_forget(sk);
	return 0;
}

/*
 * accept() hands a connection to its owner: the one moment the server-side
 * owner is the current task. The syscall-exit tracepoints are the portable
 * hook: kprobes and fentry may be compiled out or refused (both are on the
 * 6.18 kernel busprobe is tested on), while inet_csk_accept()'s argument
 * list changed in v6.10 anyway. The new socket is found through the returned
 * fd in the task's file table.
 */
struct sys_exit_args___bp {
	__u64 common;  /* struct trace_entry */
	__s64 nr;      /* int __syscall_nr, padded */
	__s64 ret;
};

static __always_inline void learn_accepted(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds, *f = NULL;
	struct socket *sock;
	struct sock *sk;

	if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	/* accept() returns socket files only: private_data is the struct socket */
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || bp_sk_protocol(sk) != IPPROTO_TCP)
		return;
	bp_learn_owner(sk);
}

SEC("tp/syscalls/sys_exit_accept4")
int handle_sys_exit_accept4(struct sys_exit_args___bp *ctx)
{
	learn_accepted(ctx->ret);
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int handle_sys_exit_accept(struct sys_exit_args___bp *ctx)
{
	learn_accepted(ctx->ret);
	return 0;
}

/*
 * Set (1) by the agent while it runs refresh_tcp_traffic once in every
 * network namespace at start: the connections already open then are counted
 * as opened, so that live = opened - closed holds from the first scrape
 * after a (re)start. 0 for the once-a-second refresh.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tcp_iter_seeding SEC(".maps");

/*
 * A connection the seeding finds open and not counted yet: counted as opened
 * where it matches now. The iterator holds the socket's lock (lock_sock_fast
 * in bpf_iter_tcp_seq_show), so its own transitions cannot interleave; one
 * that was counted since the probes attached carries opened already. Its
 * start is unknown: no lifetime at close.
 */
static __always_inline void seed_connection(const struct sock *sk)
{
	struct bp_endpoint_stats *es;
	struct bp_sock_base *base;
	struct bp_attr a = {};

	if (!bp_open_state(sk->__sk_common.skc_state))
		return;
	base = bp_sock_base(sk, true);
	if (!base || (base->flags & BP_BASE_OPENED))
		return;
	a.info = bp_sock_info(sk, true);
	bp_base_seen(base, a.info);
	bp_resolve(sk, &a);
	es = bp_endpoint_stats(&a);
	if (!es)
		return;
	__sync_fetch_and_add(&es->conn_opened, 1);
	base->opened_endpoint = a.endpoint;
	base->opened_direction = a.direction;
	base->flags |= BP_BASE_OPENED;
}

/*
 * Bytes and segments reach the endpoint counters at retransmits and at
 * close. A long-lived connection that never retransmits would show no
 * traffic until it closes, and would add nothing to the retransmit ratio's
 * denominator while a lossy neighbour adds to its numerator. The agent runs
 * this iterator over every TCP socket once a second to bring each known
 * socket's counters up to date.
 */
SEC("iter/tcp")
int refresh_tcp_traffic(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct bp_endpoint_stats *es;
	struct bp_sock_base *base;
	struct bp_attr a = {};
	struct tcp_sock *tp;
	__u32 zero = 0, *seeding;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0; /* listeners, request and time-wait sockets carry no traffic of their own */
	seeding = bpf_map_lookup_elem(&tcp_iter_seeding, &zero);
	if (seeding && *seeding) {
		seed_connection((const struct sock *)tp);
		if (skc->skc_state == TCP_LISTEN)
			bp_note_listener((const struct sock *)tp, TCP_CLOSE, TCP_LISTEN);
	} else if (bp_open_state(skc->skc_state)) {
		/*
		 * After the seeding, every open connection had its open counted at
		 * ESTABLISHED, unless the kernel skipped that run of the state
		 * program (its recursion_misses: a softirq's transition on a CPU
		 * where the program was already running). Such a connection is
		 * counted as opened here, as the seeding would, so that its close
		 * counts too and live = opened - closed holds.
		 */
		seed_connection((const struct sock *)tp);
	}
	a.info = bp_sock_info((const struct sock *)tp, false);
	bp_topic_sub_sample(tp, a.info);
	/* a known socket gets a base now if it has none; an evicted one still has its own */
	base = bp_sock_base((const struct sock *)tp, a.info != NULL);
	if (!base)
		return 0; /* unknown sockets are counted whole at close */
	bp_base_seen(base, a.info);
	bp_resolve((const struct sock *)tp, &a);
	es = bp_endpoint_stats(&a);
	if (es)
		bp_add_traffic(es, (const struct sock *)tp, base);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
