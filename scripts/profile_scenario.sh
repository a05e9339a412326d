#!/usr/bin/env bash
# Profiles the MiniTwit server while `bench scenario` replays the simulator's scenario
# sequentially (BENCHMARKS.md, "Performance III"): where the server's CPU goes per action.
#
#   scripts/profile_scenario.sh SCENARIO.csv [sqlite|postgres] [SECONDS]
#
# Needs a release build (`cargo build --release -p minitwit -p bench`) and Linux `perf`
# (Debian's linux-perf). Only software events are used (`cpu-clock`, `context-switches`):
# virtual machines often have no hardware counters. Release builds have no frame
# pointers, so call graphs come from DWARF unwinding.
#
# Prints: context switches and CPU per second of the replay, the share of samples by
# binary (kernel, MiniTwit, libc, libsqlite) and the top functions with their callers
# folded in (`perf report --children`). The raw data stays in $OUT (default /tmp/profile).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: $0 SCENARIO.csv [sqlite|postgres] [SECONDS]}
backend=${2:-sqlite}
seconds=${3:-4}
out=${OUT:-/tmp/profile}
mkdir -p "$out"

target/release/bench scenario "$scenario" --backend "$backend" --concurrency 1 \
  >"$out/bench.txt" 2>&1 &
bench=$!
trap 'kill $bench 2>/dev/null || true' EXIT

# The server is the bench's child; wait for it, then skip the registrations' Argon2 at
# the start (the scenario registers its first users in the first second or so).
pid=""
for _ in $(seq 1 100); do
  pid=$(pgrep -P "$bench" -x minitwit || true)
  [ -n "$pid" ] && break
  sleep 0.1
done
[ -n "$pid" ] || { echo "no minitwit server started" >&2; cat "$out/bench.txt" >&2; exit 1; }
sleep 2

perf stat -e context-switches,cpu-clock -p "$pid" -o "$out/stat.txt" -- sleep "$seconds" || true
perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -p "$pid" \
  -o "$out/perf.data" -- sleep "$seconds" 2>/dev/null || true
wait "$bench" || true
trap - EXIT

echo "== $backend: perf stat over $seconds s of the sequential replay"
grep -E "context-switches|cpu-clock|seconds time" "$out/stat.txt"
echo
echo "== samples by binary"
perf report -i "$out/perf.data" --no-children --sort dso --stdio 2>/dev/null \
  | grep -E '^ +[0-9]' | head -8
echo
echo "== top functions, callers folded in (children)"
perf report -i "$out/perf.data" --children --sort sym --stdio -g none 2>/dev/null \
  | grep -E '^ +[0-9]' | head -40
echo
echo "== bench output"
tail -20 "$out/bench.txt"
