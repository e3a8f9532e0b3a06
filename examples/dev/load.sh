#!/usr/bin/env bash
# The load runs of docs/performance.md, all on 127.0.0.1
# ("make load" builds the binaries first):
#
#  1. actions-authz and the minimal baseline ext_authz server of the
#     benchmarks, each with and without a cache, take turns under the same
#     closed-loop load: TOKENS distinct tokens, CONCURRENCY Checks in flight,
#     WARMUP then DURATION each, ROUNDS rounds.
#  2. A fresh actions-authz with the default cache bound serves MEM_TOKENS
#     distinct tokens (0: skip) for MEM_DURATION: its peak resident memory
#     (VmHWM).
#
# actions-authz runs the configuration of "make run" (examples/dev/config.yaml);
# "serve --dev" of the first instance is the issuer of every token.
set -euo pipefail
cd "$(dirname "$0")/../.."

TOKENS=${TOKENS:-10000}
CONCURRENCY=${CONCURRENCY:-32}
WARMUP=${WARMUP:-3s}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
MEM_TOKENS=${MEM_TOKENS:-200000}
MEM_DURATION=${MEM_DURATION:-90s}
PORT=${PORT:-9300} # uses PORT to PORT+9
bin=bin/actions-authz
loadtest=bin/loadtest
baseline=bin/baseline.test
work=$(mktemp -d)
issuer=http://127.0.0.1:$((PORT + 2))

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# config NAME [EXTRA]: the make run configuration trusting the test issuer.
config() {
	sed "s#http://127.0.0.1:9002#$issuer#" examples/dev/config.yaml >"$work/$1.yaml"
	printf '%s\n' "${2:-}" >>"$work/$1.yaml"
	echo "$work/$1.yaml"
}

# serve NAME GRPC HTTP ARGS...: an actions-authz instance, ready.
serve() {
	local name=$1 grpc=$2 http=$3
	shift 3
	"$bin" serve --grpc-addr "127.0.0.1:$grpc" --http-addr "127.0.0.1:$http" "$@" 2>"$work/$name.log" &
	pids+=($!)
	eval "pid_$name=$!"
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && return
		sleep 0.2
	done
	echo "$name did not get ready:" >&2
	cat "$work/$name.log" >&2
	exit 1
}

# baseline NAME PORT CACHE: the benchmarks' baseline server.
baseline() {
	ACTIONS_AUTHZ_BASELINE_ADDR=127.0.0.1:$2 ACTIONS_AUTHZ_BASELINE_ISSUER=$issuer \
		ACTIONS_AUTHZ_BASELINE_CACHE=$3 "$baseline" 2>"$work/$1.log" &
	pids+=($!)
	eval "pid_$1=$!"
	sleep 1
}

load() { # load NAME PORT ARGS...
	local name=$1 port=$2 pid_var="pid_$1"
	shift 2
	echo "== $name"
	"$loadtest" --addr "127.0.0.1:$port" --mint-url "$issuer/token?lifetime=3600" \
		--concurrency "$CONCURRENCY" --warmup "$WARMUP" --pid "${!pid_var}" "$@" | grep -v '^read '
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
serve cached "$PORT" $((PORT + 1)) --config "$(config cached)" --dev --dev-addr "127.0.0.1:$((PORT + 2))"
serve uncached $((PORT + 3)) $((PORT + 4)) --config "$(config uncached 'cache: {max_entries: 1}')"
baseline baseline_uncached $((PORT + 5)) 0
baseline baseline_cached $((PORT + 6)) 1

tokens="$work/tokens"
"$loadtest" --addr "127.0.0.1:$PORT" --mint-url "$issuer/token?lifetime=3600" --tokens "$TOKENS" \
	--tokens-file "$tokens" --duration 1s >/dev/null
echo "$TOKENS distinct tokens, $CONCURRENCY Checks in flight, $WARMUP warm-up, then $DURATION"
for round in $(seq "$ROUNDS"); do
	echo "---- round $round"
	load uncached $((PORT + 3)) --tokens-file "$tokens" --duration "$DURATION"
	load baseline_uncached $((PORT + 5)) --tokens-file "$tokens" --duration "$DURATION"
	load cached "$PORT" --tokens-file "$tokens" --duration "$DURATION"
	load baseline_cached $((PORT + 6)) --tokens-file "$tokens" --duration "$DURATION"
done

[ "$MEM_TOKENS" -gt 0 ] || exit 0
echo "---- memory: $MEM_TOKENS distinct tokens, default cache bound"
serve memory $((PORT + 7)) $((PORT + 8)) --config "$(config memory)"
load memory $((PORT + 7)) --tokens "$MEM_TOKENS" --duration "$MEM_DURATION" --warmup 0s
