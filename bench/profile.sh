#!/usr/bin/env bash
# Instruction counts (valgrind callgrind) of one connection set-up, both ends, which do not
# move with the machine's load the way wall-clock rates do:
#   client: `bench_host handshakes` under callgrind against a native `holepunch listen`
#   server: `holepunch listen` under callgrind against a native `bench_host handshakes`
# Each side runs N1 and N2 sequential connections; (Ir(N2) - Ir(N1)) / (N2 - N1) is the
# cost of one connection without the start-up. Top functions (inclusive) of the N2 run go
# to bench/results/profile-<label>-{client,server}.txt.
#
#   bash bench/profile.sh [BUILD_DIR] [LABEL]     (default build/release, "latest")
# Environment: PROF_N1 (50), PROF_N2 (250), PROF_MODE (handshakes: dial -> ready -> close;
# rtt: `bench_host rtt`, a new connection with identify and a 1-byte perf round trip).
# Needs valgrind (Debian: valgrind).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-build/release}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
label="${2:-latest}"
N1="${PROF_N1:-50}" N2="${PROF_N2:-250}" mode="${PROF_MODE:-handshakes}"
case "$mode" in
handshakes | rtt) ;;
*) echo "profile.sh: PROF_MODE is handshakes or rtt" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "profile.sh: valgrind not installed" >&2; exit 1; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/lp2p-prof.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$here/results"

# listen [WRAP...]: starts holepunch listen (optionally under a wrapper); sets LPID, LADDR.
listen() {
  "$@" "$build/holepunch" listen --key "$tmp/l.key" --listen /ip4/127.0.0.1/tcp/0 \
    --log-format json >"$tmp/l.log" 2>&1 &
  LPID=$!
  pids+=("$LPID")
  LADDR=""
  for _ in $(seq 400); do
    LADDR="$(grep -o '"event":"listening","addr":"[^"]*"' "$tmp/l.log" 2>/dev/null |
      head -1 | sed 's/.*"addr":"\([^"]*\)"/\1/')" || true
    [ -n "$LADDR" ] && return 0
    sleep 0.05
  done
  echo "profile.sh: listener did not start" >&2
  cat "$tmp/l.log" >&2
  exit 1
}
ir() { grep -o 'summary: [0-9]*' "$1" | awk '{print $2}'; }
top() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null >"$tmp/annotate.txt" || true
  grep -E '^ *[0-9,]+ \(' "$tmp/annotate.txt" |
    grep -v -E 'below main|libc_start|PROGRAM TOTALS|\?\?\?:0x' | head -40 || true
}

# client side
listen
if [ "$mode" = rtt ]; then args=(rtt "$LADDR"); else args=(handshakes "$LADDR" 600); fi
for n in "$N1" "$N2"; do
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cli$n.out" \
    "$build/bench_host" "${args[@]}" "$n" >"$tmp/cli$n.json" 2>"$tmp/cli$n.err"
done
kill "$LPID"; wait "$LPID" 2>/dev/null || true
cli=$(awk -v a="$(ir "$tmp/cli$N1.out")" -v b="$(ir "$tmp/cli$N2.out")" -v n=$((N2 - N1)) \
  'BEGIN{printf "%.0f", (b-a)/n}')
top "$tmp/cli$N2.out" >"$here/results/profile-$label-client.txt"

# server side
for n in "$N1" "$N2"; do
  listen valgrind --tool=callgrind --callgrind-out-file="$tmp/srv$n.out"
  if [ "$mode" = rtt ]; then args=(rtt "$LADDR"); else args=(handshakes "$LADDR" 600); fi
  "$build/bench_host" "${args[@]}" "$n" >"$tmp/srvc$n.json"
  sleep 0.5
  kill "$LPID"; wait "$LPID" 2>/dev/null || true
done
srv=$(awk -v a="$(ir "$tmp/srv$N1.out")" -v b="$(ir "$tmp/srv$N2.out")" -v n=$((N2 - N1)) \
  'BEGIN{printf "%.0f", (b-a)/n}')
top "$tmp/srv$N2.out" >"$here/results/profile-$label-server.txt"

printf '{"label":"%s","mode":"%s","commit":"%s","build":"%s","conns":[%d,%d],"client_Ir_per_conn":%s,"server_Ir_per_conn":%s}\n' \
  "$label" "$mode" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$build" \
  "$N1" "$N2" "$cli" "$srv" | tee "$here/results/profile-$label.json"
