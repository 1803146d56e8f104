/*
 * Everything the Java agent calls or reads natively, in one translation unit
 * for jextract: libbpf, the few libc calls the ring reader needs, and the
 * busprobe wire structs (bpf/events.h). What is actually bound is narrowed by
 * includes.txt; see `make bindings`.
 */
#define _GNU_SOURCE /* setns, CLONE_NEWNET */
#include <unistd.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <signal.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "events.h"
