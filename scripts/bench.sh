#!/usr/bin/env bash
# make bench: Go benchmarks (text for benchstat, JSON with the machine) and
# the load scenarios against a real node on loopback, into bench/results/.
# Needs Redis and NATS as the tests do (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
out=bench/results
mkdir -p "$out"

echo "bench: Go benchmarks (-benchtime $BENCHTIME)"
$GO test -p 1 -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./... | tee "$out/go-bench.txt"
$GO run ./internal/benchjson < "$out/go-bench.txt" > "$out/go-bench.json"

work=$(mktemp -d)
node_pid=
cleanup() {
  if [ -n "$node_pid" ]; then kill -TERM "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
$GO build -o "$work/callwerk" ./cmd/callwerk
$GO build -o "$work/loadtest" ./cmd/loadtest

# One node, 400 agents sharing one password, no wrap-up, no call limit.
token=bench-api-token-0123456789abcdef
{
  cat <<YAML
sip:
  listen: ["udp:127.0.0.1:5070"]
  max_calls: 0
media:
  address: 127.0.0.1
  ports: "46000-49999"
http:
  listen: 127.0.0.1:18080
  api_token: "$token"
trunks:
  - {name: local, addresses: ["127.0.0.0/8"]}
numbers:
  - {number: "100", queue: service}
queues:
  - {name: service, wrapup: 0s}
agents:
YAML
  for i in $(seq 1001 1400); do echo "  - {id: \"$i\", password: \"load-test-password\", queues: [service]}"; done
} > "$work/callwerk.yaml"
start_node() { # a fresh node process, so each scenario starts from idle
  if [ -n "$node_pid" ]; then kill -TERM "$node_pid"; wait "$node_pid" || true; fi
  "$work/callwerk" serve -config "$work/callwerk.yaml" 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 50); do curl -fs http://127.0.0.1:18080/healthz >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: node did not start" >&2; exit 1
}

load() { # name, then loadtest flags
  local name=$1; shift
  echo "bench: load scenario $name: $*"
  "$work/loadtest" -server 127.0.0.1:5070 -password load-test-password -json "$work/$name.json" \
    -html "$out/load-$name.html" "$@" 2>/dev/null \
    | tee "$out/load-$name.txt"
  { printf '{"machine": '; $GO run ./internal/benchjson -machine; printf ', "flags": "%s", "report": ' "$*"; cat "$work/$name.json"; printf '}\n'; } \
    > "$out/load-$name.json"
}
# (1) queue-call setup rate: 6,000 calls at 330/s, 0.5 s talk.
start_node
load setup-rate -agents 400 -calls 6000 -rate 330 -talk 500ms
# Memory per registered agent and per call in progress, 400 calls up.
start_node
load memory -agents 400 -calls 400 -rate 100 -talk 8s \
  -heap http://127.0.0.1:18080/debug/pprof/heap -heap-token "$token"
# (2) concurrent relayed calls: N calls (one agent each) held up together for
# 20 s, for rising N, until loss reaches 0.1 % or the p99 delay the relay
# adds reaches 1 ms in either direction (the report's "relay target").
relay_summary="$out/load-relay.txt"
echo "concurrent relayed calls: loss < 0.1 % and p99 added delay < 1 ms both ways" > "$relay_summary"
best=0
for n in 100 150 200 250 300 400; do
  start_node
  load "relay-$n" -agents "$n" -calls "$n" -rate 100 -talk "$((n / 100 + 20))s" || true
  { echo; echo "== $n calls"; sed -n '/^rtp connected/,/^relay target/p' "$out/load-relay-$n.txt"; } >> "$relay_summary"
  if grep -q '"within_relay_target": true' "$work/relay-$n.json"; then best=$n; else break; fi
done
echo "most concurrent relayed calls within the target: $best" | tee -a "$relay_summary"
echo "bench: results in $out/"
