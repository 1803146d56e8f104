// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * C baseline for the ring-drain benchmark: libbpf's ring_buffer__consume()
 * with a callback that does the same work as the Java handler (reads ts_ns
 * and kind of struct bp_event and sums them).
 *
 * Built twice by bench/run:
 *   - as libringbench.so, called by the Java bench (RingDrainBench) so that
 *     the C, Java and Java-upcall consumers drain the very same ring, in the
 *     same process, interleaved round by round. The drain is timed here, in
 *     C, so no JVM transition is counted against C.
 *   - with -DRINGBENCH_MAIN as the standalone program ring_c_consumer: the
 *     same loop in a process with no JVM, as a cross-check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "events.h"

static struct ring_buffer *c_rb;

static int on_record(void *ctx, void *data, size_t len)
{
	const struct bp_event *e = data;
	unsigned long long *sum = ctx;

	(void)len;
	*sum += e->ts_ns + e->kind;
	return 0;
}

static unsigned long long c_sum;

/* Open a libbpf ring_buffer on the map; once per process. 0 or -errno. */
int rb_c_open(int map_fd)
{
	c_rb = ring_buffer__new(map_fd, on_record, &c_sum, NULL);
	return c_rb ? 0 : -errno;
}

/*
 * Drain everything committed, timed with CLOCK_MONOTONIC around the one
 * ring_buffer__consume() call. Returns records consumed (or -errno).
 */
long rb_c_drain(long long *ns, unsigned long long *sum)
{
	struct timespec a, b;
	int n;

	c_sum = 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	n = ring_buffer__consume(c_rb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	*ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
	*sum = c_sum;
	return n;
}

void rb_c_close(void)
{
	ring_buffer__free(c_rb);
	c_rb = NULL;
}

/* The producer side: n getppid() calls, each one record. */
long rb_fill(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return n;
}

#ifdef RINGBENCH_MAIN
struct bench_state { /* as in ringfill.bpf.c */
	__u32 tgid;
	__u32 wakeup;
	__u64 seq;
	__u64 dropped;
	__u64 watermark;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bench_state st = {0};
	struct bpf_link *link;
	int state_fd, rb_fd, rounds, warmup = 2;
	__u32 zero = 0;
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: %s ringfill.bpf.o RECORDS ROUNDS\n", argv[0]);
		return 2;
	}
	n = atol(argv[2]);
	rounds = atoi(argv[3]);
	double rate[rounds > 0 ? rounds : 1];

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	state_fd = bpf_object__find_map_fd_by_name(obj, "bench_state");
	rb_fd = bpf_object__find_map_fd_by_name(obj, "bench_rb");
	st.tgid = getpid();
	if (bpf_map_update_elem(state_fd, &zero, &st, BPF_ANY)) {
		perror("bpf_map_update_elem");
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, "bench_fill");
	link = bpf_program__attach(prog);
	if (!link) {
		perror("bpf_program__attach");
		return 1;
	}
	if (rb_c_open(rb_fd)) {
		perror("ring_buffer__new");
		return 1;
	}
	for (int r = -warmup; r < rounds; r++) {
		unsigned long long sum, want;
		long long ns;
		long got;

		bpf_map_lookup_elem(state_fd, &zero, &st);
		want = (unsigned long long)n * st.seq + (unsigned long long)n * (n - 1) / 2 +
		       (unsigned long long)n * BP_KIND_RETRANSMIT;
		rb_fill(n);
		got = rb_c_drain(&ns, &sum);
		if (got != n || sum != want) {
			fprintf(stderr, "round %d: drained %ld of %ld records, checksum %llu want %llu\n",
				r, got, n, sum, want);
			return 1;
		}
		if (r >= 0)
			rate[r] = n * 1e9 / ns;
	}
	qsort(rate, rounds, sizeof(rate[0]), cmp_double);
	printf("c-standalone records=%ld rounds=%d median=%.1f min=%.1f max=%.1f Mrec/s\n",
	       n, rounds, rate[rounds / 2] / 1e6, rate[0] / 1e6, rate[rounds - 1] / 1e6);
	rb_c_close();
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
#endif
