#!/usr/bin/env bash
# Runs Redis 7.0.15's own test suite (../shared/redis-suite) against the model, served by
# `splitbrain-model serve` on a free loopback port, and fails when fewer than MIN of the 440
# baseline tests pass (default 418, 95 %). Needs tclsh (apt-get install -y tcl).
#
#   model/redis-suite.sh                 # all default units
#   MIN=0 SHOW_FAILURES=1 model/redis-suite.sh unit/expire
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${REDIS_SUITE:-../shared/redis-suite}
[ -x "$suite/run.sh" ] || { echo "redis-suite: $suite/run.sh not found (set REDIS_SUITE)" >&2; exit 2; }
# The floor is for the whole default run; a run of some units checks nothing unless MIN says.
if [ $# -eq 0 ]; then min=${MIN:-418}; else min=${MIN:-0}; fi
cargo build --release -q -p splitbrain-model
log=$(mktemp)
./target/release/splitbrain-model serve --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { echo "redis-suite: the model did not start: $(cat "$log")" >&2; exit 1; }
out=$(mktemp)
"$suite/run.sh" "$port" "$@" | tee "$out" || true
passed=$(sed -n 's/^redis-suite: \([0-9]*\) passed.*/\1/p' "$out")
rm -f "$out"
[ -n "$passed" ] || { echo "redis-suite: no result line" >&2; exit 1; }
if [ "$passed" -lt "$min" ]; then
  echo "redis-suite: $passed passed, below the floor of $min" >&2
  exit 1
fi
echo "redis-suite: $passed passed (floor $min)"
