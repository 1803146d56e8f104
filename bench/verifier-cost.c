// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load cost: what the kernel's verifier spends on each busprobe program.
 *
 *   build/bench/verifier-cost build/bpf/OBJ.bpf.o...
 *
 * Loads every program of each object on its own (the others not autoloaded),
 * with the verifier's statistics log (log level 4), and prints one markdown
 * row per program: instructions processed (the limit is 1,000,000), peak
 * states, and the wall time of the load. Nothing is attached or pinned; each
 * object is closed after its load. Needs root (or CAP_BPF + CAP_PERFMON).
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char vlog[1 << 20];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The number after key in the verifier's statistics line, or -1. */
static long stat_of(const char *key)
{
	const char *s = strstr(vlog, key);

	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	libbpf_set_print(silent);
	printf("| object | program | insns processed | peak states | load ms |\n|---|---|---:|---:|---:|\n");
	for (int a = 1; a < argc; a++) {
		struct bpf_object *names = bpf_object__open(argv[a]);
		struct bpf_program *p;

		if (!names) {
			fprintf(stderr, "verifier-cost: cannot open %s\n", argv[a]);
			return 1;
		}
		bpf_object__for_each_program(p, names) {
			struct bpf_object *obj = bpf_object__open(argv[a]);
			struct bpf_program *q;
			double t0, t1;
			int err;

			bpf_object__for_each_program(q, obj)
				bpf_program__set_autoload(q, !strcmp(bpf_program__name(q), bpf_program__name(p)));
			q = bpf_object__find_program_by_name(obj, bpf_program__name(p));
			vlog[0] = 0;
			bpf_program__set_log_buf(q, vlog, sizeof(vlog));
			bpf_program__set_log_level(q, 4);
			t0 = now();
			err = bpf_object__load(obj);
			t1 = now();
			const char *base = strrchr(argv[a], '/');
			printf("| %s | %s | %ld | %ld | %.0f%s |\n", base ? base + 1 : argv[a], bpf_program__name(p),
			       stat_of("processed "), stat_of("peak_states "), (t1 - t0) * 1e3, err ? " (load failed)" : "");
			rc |= err != 0;
			bpf_object__close(obj);
		}
		bpf_object__close(names);
	}
	return rc;
}
