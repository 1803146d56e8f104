# busprobe: the Makefile owns system set-up and the C side; Maven owns Java.
#
#   make run     install deps if missing, build, and run the daemon (root)
#   make test    install deps if missing, build, and run every test tier (root)
#   make check   load and attach every BPF program, then exit
#   make bindings  regenerate jextract-bindings/ (needs jextract on PATH)
#   make dist    build/dist/busprobe-VERSION.tar.gz: launcher, jar (BPF object inside),
#                completion, systemd unit, dashboards, deploy files, docs
#   make install PREFIX=/usr/local [DESTDIR=...]  install that tree

SHELL       := /bin/bash
JAVA_HOME   ?= /usr/lib/jvm/temurin-25-jdk-amd64
export JAVA_HOME
MVN         ?= mvn -B -q
BUILD       := build
BPF_OUT     := $(BUILD)/bpf
CLANG       ?= clang
BPFTOOL     ?= bpftool
ARCH        := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
BPF_CFLAGS  := -O2 -g -target bpf -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
               -I$(BPF_OUT) -Ibpf
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BPF_OUT)/%.bpf.o,$(BPF_SRCS))
BPF_HDRS    := $(wildcard bpf/*.h)
AGENT_JAR   := agent-java/target/busprobe.jar

# Debian packages the build and every test tier need.
APT_PKGS    := clang llvm libbpf-dev bpftool nftables iproute2 iperf3 socat \
               python3 maven iputils-ping redis-server nats-server prometheus procps \
               systemd util-linux tmux
DEPS_STAMP  := $(BUILD)/.deps

.PHONY: all deps bpf build run test test-beside-neighbours unit-test check bindings clean dist install dist-files install-files dist-test

all: build

deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@test "$$(id -u)" = 0 || { echo "make deps: must run as root (apt-get install)"; exit 1; }
	@test -x "$(JAVA_HOME)/bin/java" || { echo "make deps: JDK 25 not found at $(JAVA_HOME); install Temurin 25 or set JAVA_HOME"; exit 1; }
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@mkdir -p $(BUILD) && touch $@

# vmlinux.h comes from the running kernel's BTF and stays in the build folder:
# it is a property of the machine, not of the source tree.
$(BPF_OUT)/vmlinux.h: | $(DEPS_STAMP)
	@mkdir -p $(BPF_OUT)
	@test -r /sys/kernel/btf/vmlinux || { echo "make bpf: /sys/kernel/btf/vmlinux missing; busprobe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y"; exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BPF_OUT)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# One object for the agent: the families share the ring and the maps.
$(BPF_OUT)/busprobe.bpf.o: $(filter-out $(BPF_OUT)/busprobe.bpf.o,$(BPF_OBJS))
	$(BPFTOOL) gen object $@ $^

bpf: $(BPF_OUT)/busprobe.bpf.o

build: bpf
	$(MVN) -DskipTests package

run: build
	@test "$$(id -u)" = 0 || { echo "make run: busprobe needs root (CAP_BPF, CAP_PERFMON); run it with sudo"; exit 1; }
	agent-java/bin/busprobe run $(ARGS)

# Every tier: unit, privileged (real kernel), end-to-end. As root the
# privileged tiers run; in CI (CI=true) a skip of them fails the build.
test: bpf
	@test "$$(id -u)" = 0 || { echo "make test: the kernel tiers need root; run as root"; exit 1; }
	mvn -B -ntp verify
	$(MAKE) --no-print-directory dist-test

# make test beside the neighbours of .ci/neighbours: a busprobe daemon on the default pins,
# lock and port, and lossy iperf3 traffic in namespaces of their own, for the whole run.
# Tests scope their ground truth to what they created, so both sides must come through.
test-beside-neighbours: build
	@test "$$(id -u)" = 0 || { echo "make test-beside-neighbours: needs root"; exit 1; }
	.ci/neighbours start 7200
	@rc=0; CI=true $(MAKE) --no-print-directory test || rc=$$?; .ci/neighbours stop || rc=$${rc/#0/1}; exit $$rc

unit-test: bpf
	$(MVN) verify -Dgroups='!privileged'

check: build
	agent-java/bin/busprobe check

# Regenerates the committed Panama bindings. jextract is not packaged; build
# it from openjdk/jextract and put it on PATH first (see README).
bindings:
	@command -v jextract >/dev/null || { echo "make bindings: jextract not on PATH (see README, 'Regenerating bindings')"; exit 1; }
	rm -rf jextract-bindings/src/main/java/io/busprobe/bindings
	jextract @jextract-bindings/includes.txt \
	  --output jextract-bindings/src/main/java \
	  --target-package io.busprobe.bindings \
	  --header-class-name Native \
	  --library :libbpf.so.1 \
	  -I bpf \
	  jextract-bindings/busprobe-native.h

# The distribution: one folder laid out like its install prefix, and its tarball.
VERSION     := $(shell sed -n 's:.*<version>\(.*\)</version>.*:\1:p' pom.xml | head -1)
DIST        := $(BUILD)/dist/busprobe-$(VERSION)
PREFIX      ?= /usr/local

dist: build
	@$(MAKE) --no-print-directory dist-files

# dist-files and install-files package what is built, without building it again.
dist-files:
	rm -rf $(DIST) $(DIST).tar.gz
	install -D -m 0755 agent-java/bin/busprobe $(DIST)/bin/busprobe
	install -D -m 0644 $(AGENT_JAR) $(DIST)/lib/busprobe/busprobe.jar
	mkdir -p $(DIST)/share/bash-completion/completions
	$(DIST)/bin/busprobe generate-completion > $(DIST)/share/bash-completion/completions/busprobe
	install -D -m 0644 deploy/systemd/busprobe.service $(DIST)/lib/systemd/system/busprobe.service
	install -D -m 0644 README.md $(DIST)/share/doc/busprobe/README.md
	install -D -m 0644 BENCHMARKS.md $(DIST)/share/doc/busprobe/BENCHMARKS.md
	mkdir -p $(DIST)/share/busprobe
	cp -r grafana deploy $(DIST)/share/busprobe/
	tar -C $(BUILD)/dist -czf $(DIST).tar.gz busprobe-$(VERSION)
	@echo "make dist: $(DIST).tar.gz"

# DESTDIR stages a package build; the unit's ExecStart follows PREFIX.
install: dist
	@$(MAKE) --no-print-directory install-files

install-files:
	@test -n "$(PREFIX)" || { echo "make install: PREFIX is empty"; exit 2; }
	mkdir -p $(DESTDIR)$(PREFIX)
	cp -R $(DIST)/. $(DESTDIR)$(PREFIX)/
	sed -i 's:^ExecStart=/usr/bin/busprobe:ExecStart=$(PREFIX)/bin/busprobe:' \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/busprobe.service
	@echo "make install: $(DESTDIR)$(PREFIX)/bin/busprobe"

# The distribution as a user gets it: install into a scratch prefix and use it
# from there (launcher, JDK discovery, completion, systemd-analyze verify).
dist-test: dist-files
	deploy/test-dist.sh $(DIST)

clean:
	rm -rf $(BPF_OUT) agent-java/target jextract-bindings/target target

# Benchmarks (root): bench/run builds its pieces into build/bench/ and appends
# the results to BENCHMARKS.md. BENCH_ARGS=--quick for a short run.
.PHONY: bench
bench: build
	bench/run $(BENCH_ARGS)

# JMH micro-benchmarks of the per-event path (no root, no kernel): see bench/jmh/run
bench-jmh: ; bench/jmh/run $(JMH_ARGS)
