#!/bin/bash
# The distribution as an operator gets it (make test runs this after the Java
# tiers; root). Installs build/dist/busprobe-VERSION into a scratch prefix with
# `make install-files` and checks, from there:
#   - the tarball and the tree hold the launcher, the jar with the BPF object,
#     the completion script, the systemd unit, dashboards and docs;
#   - the launcher runs from any directory and through a symlink, finds a JDK 25
#     when JAVA_HOME is an older one, and refuses with exit 3 and one line when
#     it is given or can only find an older one;
#   - the completion script loads and completes commands;
#   - systemd-analyze verify accepts the installed unit, ExecStart follows PREFIX;
#   - the unit's CapabilityBoundingSet is enough: the agent, confined to it with
#     setpriv, attaches every probe and refreshes traffic in another network
#     namespace (a root process's) without complaint; without CAP_SYS_PTRACE or
#     CAP_SYS_ADMIN it says which it lacks;
#   - SIGHUP from the launcher's first line on (`run`): a reload once it is up, not exit 129.
# Every check prints "ok" or "FAIL"; the exit status is the number of failures.
set -u
dist=${1:?usage: deploy/test-dist.sh build/dist/busprobe-VERSION}
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/busprobe-dist.XXXXXX)
prefix=$scratch/prefix
netns=bpdist$$
sleeper=
failures=0

cleanup() {
  [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
  ip netns del "$netns" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

ok() { echo "ok    $1"; }
fail() { echo "FAIL  $1"; failures=$((failures + 1)); }
check() { # check NAME COMMAND...: ok when the command succeeds
  local name=$1; shift
  if "$@" >"$scratch/out" 2>&1; then ok "$name"; else fail "$name: $(head -c 400 "$scratch/out")"; fi
}

version=$(basename "$dist" | sed 's/^busprobe-//')
jdk17=$(ls -d /usr/lib/jvm/java-17-openjdk-* 2>/dev/null | head -1)

echo "== tarball and tree"
check "tarball lists the launcher, jar, completion and unit" bash -c "tar -tzf '$dist.tar.gz' | grep -q 'bin/busprobe$' \
  && tar -tzf '$dist.tar.gz' | grep -q 'lib/busprobe/busprobe.jar$' \
  && tar -tzf '$dist.tar.gz' | grep -q 'share/bash-completion/completions/busprobe$' \
  && tar -tzf '$dist.tar.gz' | grep -q 'lib/systemd/system/busprobe.service$' \
  && tar -tzf '$dist.tar.gz' | grep -q 'share/busprobe/grafana/'"
check "the jar carries the BPF object" bash -c "'${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/jar' tf '$dist/lib/busprobe/busprobe.jar' | grep -q 'busprobe.bpf.o'"
check "make install-files PREFIX=scratch" make -C "$root" --no-print-directory install-files PREFIX="$prefix"

bp=$prefix/bin/busprobe
echo "== launcher"
check "--version from another directory" bash -c "cd / && '$bp' --version | grep -qx 'busprobe $version'"
ln -s "$bp" "$scratch/busprobe-link"
check "through a symlink elsewhere" bash -c "'$scratch/busprobe-link' --version | grep -q 'busprobe $version'"
if [ -n "$jdk17" ]; then
  check "JAVA_HOME=Java 17 is skipped for a JDK 25" env JAVA_HOME="$jdk17" "$bp" --version
  out=$(BUSPROBE_JAVA_HOME=$jdk17 "$bp" --version 2>&1); rc=$?
  if [ $rc = 3 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "not a JDK 25"; then
    ok "BUSPROBE_JAVA_HOME=Java 17: exit 3, one line"
  else fail "BUSPROBE_JAVA_HOME=Java 17: rc=$rc: $out"; fi
  # no JDK 25 anywhere: hide every one in a private mount namespace
  hide=$(for d in /usr/lib/jvm/*; do [ "$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release" 2>/dev/null)" -ge 25 ] 2>/dev/null && echo "$d"; done)
  mounts=$(for d in $hide; do printf 'mount -t tmpfs none %s && ' "$d"; done)
  out=$(unshare -m bash -c "${mounts} JAVA_HOME='$jdk17' PATH='$jdk17/bin:/usr/bin:/bin' '$bp' --version" 2>&1); rc=$?
  if [ $rc = 3 ] && [ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q "needs Java 25 or newer (found: Java 17"; then
    ok "only Java 17 on the host: exit 3, one line naming it"
  else fail "only Java 17 on the host: rc=$rc: $out"; fi
else
  fail "no Java 17 under /usr/lib/jvm to test the JDK checks with"
fi

echo "== completion"
check "bash completion loads and completes 'busprobe ru'" bash -c "
  source '$prefix/share/bash-completion/completions/busprobe'
  complete -p busprobe >/dev/null
  COMP_WORDS=(busprobe ru); COMP_CWORD=1; COMP_LINE='busprobe ru'; COMP_POINT=\${#COMP_LINE}
  _complete_busprobe busprobe ru busprobe 2>/dev/null || true
  printf '%s\n' \"\${COMPREPLY[@]}\" | grep -qx run"

echo "== systemd unit"
unit=$prefix/lib/systemd/system/busprobe.service
check "ExecStart follows PREFIX" grep -qx "ExecStart=$prefix/bin/busprobe run \$BUSPROBE_ARGS" "$unit"
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify "$unit" 2>&1); rc=$?
  if [ $rc = 0 ] && ! echo "$out" | grep -q "busprobe"; then ok "systemd-analyze verify"; else fail "systemd-analyze verify: rc=$rc: $out"; fi
else
  fail "systemd-analyze missing (apt-get install systemd)"
fi

echo "== the unit's capabilities are enough"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
export BUSPROBE_PIN_DIR=/sys/fs/bpf/busprobe-dist-test
ip netns add "$netns"
# a listening TCP socket: the refresh skips namespaces whose sockstat shows no TCP socket, and
# the daemon must try this one; outlives the three runs, killed by cleanup
ip netns exec "$netns" socat -u TCP-LISTEN:7,reuseaddr /dev/null & sleeper=$!
for _ in $(seq 50); do ip netns exec "$netns" grep -q "TCP: inuse [1-9]" /proc/net/sockstat && break; sleep 0.1; done
log=$scratch/daemon.log
setpriv --bounding-set=-all,"$caps" "$bp" run --duration 4s --metrics-address 127.0.0.1:0 >"$log" 2>&1; rc=$?
if [ $rc = 0 ] && grep -Eq "started, ([0-9]+)/\1 probes attached" "$log" && ! grep -Eq "refresh failed|cannot count" "$log"; then
  ok "run confined to CapabilityBoundingSet ($caps): every probe, every namespace"
else fail "run confined to $caps: rc=$rc: $(cat "$log")"; fi
# each capability the unit grants for namespaces, taken away: the daemon names it
for cap in sys_ptrace sys_admin; do
  less=$(echo "$caps" | tr ',' '\n' | grep -vx "+$cap" | paste -sd,)
  setpriv --bounding-set=-all,"$less" "$bp" run --duration 5s --metrics-address 127.0.0.1:0 >"$log" 2>&1
  name=CAP_$(echo "$cap" | tr 'a-z' 'A-Z')
  if grep -q "cannot count endpoint traffic in [1-9][0-9]* of .* network namespaces .*lacks .*$name" "$log"; then
    ok "without $name: says which namespaces it cannot count, and why"
  else fail "without $name ($less): $(cat "$log")"; fi
done

echo "== SIGHUP while the daemon starts"
# sent from the moment the launcher is spawned until the daemon says it started: it must not
# exit 129 (the JVM's default) but reload once it is up, and exit 0 at the end
# (from its first trap on: between fork and the launcher's `trap '' HUP` no process can
# survive a SIGHUP whose parent did not ignore it, so the test waits for SigIgn bit 0)
"$bp" run --duration 10s --metrics-address 127.0.0.1:0 >"$log" 2>&1 & daemon=$!
for _ in $(seq 500); do
  ign=$(awk '/^SigIgn:/ { print $2 }' /proc/$daemon/status 2>/dev/null) || break
  [ -n "$ign" ] && [ $(( 0x$ign & 1 )) = 1 ] && break; sleep 0.001
done
hups=0
while kill -0 "$daemon" 2>/dev/null && ! grep -q " started, " "$log"; do
  kill -HUP "$daemon" 2>/dev/null && hups=$((hups + 1)); sleep 0.002
done
wait "$daemon"; rc=$?
if [ $rc = 0 ] && [ $hups -gt 0 ] && grep -q "endpoints reloaded" "$log"; then
  ok "$hups SIGHUPs during start-up: one reload after it, exit 0"
else fail "SIGHUP during start-up: rc=$rc after $hups: $(cat "$log")"; fi
rm -rf "$BUSPROBE_PIN_DIR"

echo "== $failures failure(s)"
exit $failures
