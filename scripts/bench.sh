#!/usr/bin/env bash
# make bench: Go benchmarks (text for benchstat, JSON with the machine) and
# the load scenarios against a real node on loopback, into bench/results/,
# then the setup-rate sweep against Kamailio on the same machine for
# comparison (installed from Debian when missing; COMPARE=0 skips it).
# Needs Redis and NATS as the tests do (scripts/test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-1s}
COMPARE=${COMPARE:-1}
out=bench/results
mkdir -p "$out"

echo "bench: Go benchmarks (-benchtime $BENCHTIME)"
$GO test -p 1 -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" ./... | tee "$out/go-bench.txt"
$GO run ./internal/benchjson < "$out/go-bench.txt" > "$out/go-bench.json"

work=$(mktemp -d)
server_pid=
stop_server() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
$GO build -o "$work/callwerk" ./cmd/callwerk
$GO build -o "$work/loadtest" ./cmd/loadtest
machine=$($GO run ./internal/benchjson -machine)

# One node, 400 agents sharing one password, no wrap-up, no call limit.
agents=400
token=bench-api-token-0123456789abcdef
{
  cat <<YAML
sip:
  listen: ["udp:127.0.0.1:5070"]
  max_calls: 0
media:
  address: 127.0.0.1
  ports: "40000-47999"
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
  for i in $(seq 1001 $((1000 + agents))); do echo "  - {id: \"$i\", password: \"load-test-password\", queues: [service]}"; done
} > "$work/callwerk.yaml"
start_node() { # a fresh node process, so each scenario starts from idle
  stop_server
  "$work/callwerk" serve -config "$work/callwerk.yaml" 2>>"$work/node.log" &
  server_pid=$!
  for _ in $(seq 50); do curl -fs http://127.0.0.1:18080/healthz >/dev/null 2>&1 && return; sleep 0.1; done
  echo "bench: node did not start" >&2; exit 1
}
server=127.0.0.1:5070

load() { # name, then loadtest flags; the exit status says whether all calls succeeded
  local name=$1; shift
  echo "bench: load scenario $name: $*"
  local rc=0
  "$work/loadtest" -server "$server" -password load-test-password -json "$work/$name.json" \
    -html "$out/load-$name.html" "$@" 2>/dev/null > "$out/load-$name.txt" || rc=$?
  cat "$out/load-$name.txt"
  { printf '{"machine": %s, "flags": "%s", "report": ' "$machine" "$*"; cat "$work/$name.json"; printf '}\n'; } \
    > "$out/load-$name.json"
  return $rc
}
within() { grep -q "\"within_$1_target\": true" "$out/load-$2.json"; }

# (1) queue-call setup rate: 15 s of calls at rising rates, 0.5 s talk, on a
# fresh server each, until more than 0.1 % of the calls fail. The load tool
# shares the two cores, so at some rate it cannot offer more, and past that
# the two starve each other: the result is the highest rate answered within
# the target.
rates="300 450 600 750 1000"
sweep_setup() { # server name, start command
  rm -f "$out/load-setup-$1-"*
  for rate in $rates; do
    $2
    load "setup-$1-$rate" -agents "$agents" -calls $((rate * 15)) -rate "$rate" -talk 500ms || true
    within setup "setup-$1-$rate" || break
  done
  summarise_setup "$1"
}
summarise_setup() { # server name: the sweep's levels into load-setup-NAME.txt
  local summary="$out/load-setup-$1.txt" best=0 cps rate
  echo "queue calls set up per second with under 0.1 % failed ($1)" > "$summary"
  for rate in $rates; do
    [ -f "$out/load-setup-$1-$rate.json" ] || break
    { echo; echo "== offered $rate/s"; sed -n '/^calls/,/^  INVITE->agent/p' "$out/load-setup-$1-$rate.txt"; } >> "$summary"
    within setup "setup-$1-$rate" || break
    cps=$(sed -n 's/^ *"answered_cps": \([0-9.]*\).*/\1/p' "$out/load-setup-$1-$rate.json")
    best=$(awk -v a="$best" -v b="$cps" 'BEGIN { printf "%.1f", (b > a ? b : a) }')
  done
  echo "highest answered rate within the target: $best calls/s" | tee -a "$summary"
}
sweep_setup callwerk start_node

# Memory per registered agent and per call in progress, 400 calls up.
start_node
load memory -agents "$agents" -calls 400 -rate 100 -talk 8s \
  -heap http://127.0.0.1:18080/debug/pprof/heap -heap-token "$token" || true

# (2) concurrent relayed calls: N calls (one agent each) held up together for
# 20 s, for rising N, until loss reaches 0.1 % or the p99 delay the relay
# adds reaches 1 ms in either direction (the report's "relay target").
levels="100 150 200 250 300 400 500"
sweep_relay() { # server name, start command, loadtest flags before the call count
  local name=$1 start=$2; shift 2
  local summary="$out/load-relay-$name.txt" best=0 n
  echo "concurrent relayed calls ($name): loss < 0.1 % and p99 added delay < 1 ms both ways" > "$summary"
  rm -f "$out/load-relay-$name-"*
  for n in $levels; do
    $start
    load "relay-$name-$n" "$@" -agents "$n" -calls "$n" -rate 100 -talk "$((n / 100 + 20))s" || true
    { echo; echo "== $n calls"; sed -n '/^rtp connected/,/^relay target/p' "$out/load-relay-$name-$n.txt"; } >> "$summary"
    within relay "relay-$name-$n" || break
    best=$n
  done
  echo "most concurrent relayed calls within the target ($name): $best" | tee -a "$summary"
}
rm -f "$out"/load-relay.txt "$out"/load-relay-[0-9]*
sweep_relay callwerk start_node
stop_server

# (3) routing latency with 2,000 agents and 10,000 waiting calls is the Go
# benchmark BenchmarkDispatchLatency above.

# Side by side: the same setup sweep against Kamailio, a registrar and
# stateful proxy without media relay or queue (scripts/compare/kamailio.cfg),
# and the same relay sweep against rtpengine's userspace relay (no kernel
# module), its calls set up over its ng protocol by the same load tool.
if [ "$COMPARE" = 1 ]; then
  for pkg in kamailio rtpengine-daemon; do
    if ! dpkg -s "$pkg" >/dev/null 2>&1; then
      echo "bench: installing $pkg"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    fi
  done
  start_kamailio() {
    stop_server
    kamailio -f scripts/compare/kamailio.cfg -A AGENTS="$agents" -A PORT=5080 -m 1024 -M 16 \
      -w "$work" -DD -E 2>>"$work/kamailio.log" &
    server_pid=$!
    sleep 1
    # agents registering is the readiness check: the load tool fails fast if it is not up
  }
  server=127.0.0.1:5080
  sweep_setup kamailio start_kamailio
  start_rtpengine() {
    stop_server
    scripts/compare/rtpengine.sh 127.0.0.1:2223 2>>"$work/rtpengine.log" &
    server_pid=$!
    sleep 1 # the load tool's first ng ping fails fast if it is not up
  }
  sweep_relay rtpengine start_rtpengine -rtpengine 127.0.0.1:2223
  stop_server
fi
echo "bench: results in $out/"
