#!/usr/bin/env bash
# Measures `skydive agent` idle with N namespaces (each with a veth pair, one
# end inside): RSS after settling, and CPU over one idle minute.
# Usage (root): scripts/agent-footprint.sh [N] [SECONDS]
set -euo pipefail
N=${1:-100}
SECS=${2:-60}
BIN=${SKYDIVE_BIN:-bin/skydive}
P=fp$$
tmp=$(mktemp -d)
cleanup() {
  [ -n "${AG:-}" ] && kill "$AG" 2>/dev/null || true
  [ -n "${AN:-}" ] && kill "$AN" 2>/dev/null || true
  for i in $(seq 1 "$N"); do ip netns del "${P}n$i" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for i in $(seq 1 "$N"); do
  ip netns add "${P}n$i"
  ip link add "${P}h$i" type veth peer name "${P}c$i"
  ip link set "${P}c$i" netns "${P}n$i"
  ip link set "${P}h$i" up
  ip -n "${P}n$i" link set "${P}c$i" up
done
port=$((20000 + RANDOM % 20000))
printf 'host_id: footprint\nanalyzer:\n  listen: 127.0.0.1:%d\nanalyzers: [127.0.0.1:%d]\nagent:\n  listen: 127.0.0.1:%d\nlogging:\n  level: warn\n' \
  "$port" "$port" $((port + 1)) > "$tmp/c.yml"
"$BIN" analyzer -c "$tmp/c.yml" 2>"$tmp/analyzer.log" & AN=$!
"$BIN" agent -c "$tmp/c.yml" 2>"$tmp/agent.log" & AG=$!
# Wait until the analyzer sees every namespace.
for _ in $(seq 1 100); do
  n=$("$BIN" client --analyzer 127.0.0.1:$port query "G.V().Has('Type', 'netns').Count()" 2>/dev/null || echo 0)
  [ "$n" -ge "$N" ] && break
  sleep 0.2
done
echo "netns nodes seen by the analyzer: $n"
nodes=$("$BIN" client --analyzer 127.0.0.1:$port query "G.V().Count()")
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$AG/stat"; }
t0=$(ticks); s0=$(date +%s.%N)
sleep "$SECS"
t1=$(ticks); s1=$(date +%s.%N)
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$AG/status")
anon=$(awk '/RssAnon/ {print $2}' "/proc/$AG/status")
file=$(awk '/RssFile/ {print $2}' "/proc/$AG/status")
cpu=$(echo "($t1 - $t0) / $hz / ($s1 - $s0) * 100" | bc -l)
printf 'agent with %d namespaces (%d nodes): RSS %.1f MB (anonymous %.1f MB, binary and files %.1f MB), CPU %.2f%% over %ds idle\n' \
  "$N" "$nodes" "$(echo "$rss/1024" | bc -l)" "$(echo "$anon/1024" | bc -l)" "$(echo "$file/1024" | bc -l)" "$cpu" "$SECS"
