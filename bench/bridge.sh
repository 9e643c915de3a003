#!/usr/bin/env bash
# Kaspa through two `holepunch bridge`s on loopback versus the same stand-ins over direct TCP,
# in the same run (issue 10's benchmark):
#
#   client --kaspa-connect ─TCP─▶ bridge B ══libp2p (TCP+Noise+Yamux)══▶ bridge A ─TCP─▶ server
#   client --kaspa-connect ─────────────────────TCP──────────────────────────────────▶ server
#
#   bash bench/bridge.sh [BUILD_DIR] [--runs N] [--burst SIZE] [--gzip-burst SIZE]
#                        [--pings N] [--out FILE]
#     BUILD_DIR     default build/release
#     --runs        runs, each measuring everything once, bridged and direct back to back (3)
#     --burst       bytes per burst without gzip (default 256M)
#     --gzip-burst  bytes per burst with gzip, kaspad's default (default 64M)
#     --pings       Ping/Pong rounds per ping run, one in flight (default 5000)
#     --out         default bench/results/bridge.json
# Reports medians, the ratios bridged/direct, and the latency the bridges add per round trip
# (1/rate_bridged - 1/rate_direct). The machine is shared: the load average is recorded.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$HERE/.." && pwd)
RUNS=3
BURST=256M
GZIP_BURST=64M
PINGS=5000
OUT=$SRC_DIR/bench/results/bridge.json
build=build/release
while (($#)); do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --burst) BURST=$2; shift 2 ;;
  --gzip-burst) GZIP_BURST=$2; shift 2 ;;
  --pings) PINGS=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
  -*) echo "bridge.sh: unknown option $1" >&2; exit 2 ;;
  *) build=$1; shift ;;
  esac
done
case $build in /*) ;; *) build=$SRC_DIR/$build ;; esac
H=$build/holepunch
[[ -x $H ]] || { echo "bridge.sh: $H not built" >&2; exit 1; }
command -v jq >/dev/null || { echo "bridge.sh: jq not found" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/bridgebench.XXXXXX")
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null; done
  if ((rc != 0)); then
    for f in "$W"/*.log; do [[ -s $f ]] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }; done
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bridge.sh: $*" >&2; exit 1; }
ev() {
  jq -rR --arg e "$2" "fromjson? | select(type == \"object\" and .event == \$e) | .$3" \
    <(grep '^{' "$1") | head -n 1
}
wait_ev() { # FILE EVENT FIELD: waits up to 10 s for EVENT, prints FIELD
  local v
  for _ in $(seq 200); do
    v=$(ev "$@")
    [[ -n $v ]] && { echo "$v"; return 0; }
    sleep 0.05
  done
  return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$H" keygen --key "$W/a.key" >"$W/a.id" && "$H" keygen --key "$W/b.key" >"$W/b.id" || die "keygen"
IDA=$(<"$W/a.id")
IDB=$(<"$W/b.id")
"$H" server --kaspa-listen 127.0.0.1:0 --log-format json --ping-interval 0 >"$W/srv.log" 2>&1 &
PIDS+=($!)
TCP=$(wait_ev "$W/srv.log" kaspa_listen addr) || die "server did not start"
PA=$(free_port)
PB=$(free_port)
"$H" bridge --key "$W/a.key" --kaspad "$TCP" --listen /ip4/127.0.0.1/tcp/0 --peer "$IDB" \
  --peer-port "$PA" --log-format json >"$W/a.log" 2>&1 &
PIDS+=($!)
AMA=$(wait_ev "$W/a.log" listening addr) || die "bridge A did not listen"
AMA=${AMA%/p2p/*}
"$H" bridge --key "$W/b.key" --kaspad 127.0.0.1:9 --listen /ip4/127.0.0.1/tcp/0 \
  --peer "$IDA,$AMA" --peer-port "$PB" --log-format json >"$W/b.log" 2>&1 &
PIDS+=($!)
EP=$(wait_ev "$W/b.log" bridge_listen addr) || die "bridge B did not listen"
wait_ev "$W/b.log" bridge_peer_direct peer >/dev/null || die "bridge B did not reach A ($AMA)"
echo "# server $TCP; bridged endpoint $EP (B → A over libp2p $AMA)" >&2

client() { # NAME ENDPOINT ARGS...
  local name=$1 ep=$2
  shift 2
  local -a cmd=("$H" client) # kaspa_load (bench/kaspa_load.c) for a --burst
  case " $* " in *" --burst "*) cmd=("$build/kaspa_load") ;; esac
  timeout -k 2 300 "${cmd[@]}" --kaspa-connect "$ep" --log-format json --ping-interval 0 "$@" \
    >"$W/$name.log" 2>&1
}
burst_sample() {
  jq -cR 'fromjson? | select(type == "object" and .event == "kaspa_burst") | {bytes, seconds, mb_per_s}' \
    <(grep '^{' "$1") | head -n 1
}
ping_sample() {
  local r d
  r=$(ev "$1" kaspa_ready ts)
  d=$(ev "$1" kaspa_pings_done ts)
  [[ -n $r && -n $d && $(ev "$1" kaspa_pings_done answered) == "$PINGS" ]] || return 1
  jq -nc --argjson n "$PINGS" --argjson ms $((d - r)) \
    '{rounds: $n, ms: $ms, rounds_per_s: (if $ms > 0 then $n * 1000 / $ms else null end)}'
}

SAMPLES=$W/samples.jsonl
: >"$SAMPLES"
for run in $(seq "$RUNS"); do
  client "bb$run" "$EP" --burst "$BURST" --no-gzip || die "run $run: bridged burst failed"
  client "db$run" "$TCP" --burst "$BURST" --no-gzip || die "run $run: direct burst failed"
  client "bg$run" "$EP" --burst "$GZIP_BURST" || die "run $run: bridged gzip burst failed"
  client "dg$run" "$TCP" --burst "$GZIP_BURST" || die "run $run: direct gzip burst failed"
  client "bp$run" "$EP" --pings "$PINGS" --no-gzip || die "run $run: bridged pings failed"
  client "dp$run" "$TCP" --pings "$PINGS" --no-gzip || die "run $run: direct pings failed"
  jq -nc --argjson run "$run" \
    --argjson bb "$(burst_sample "$W/bb$run.log")" --argjson db "$(burst_sample "$W/db$run.log")" \
    --argjson bg "$(burst_sample "$W/bg$run.log")" --argjson dg "$(burst_sample "$W/dg$run.log")" \
    --argjson bp "$(ping_sample "$W/bp$run.log")" --argjson dp "$(ping_sample "$W/dp$run.log")" \
    '{run: $run, bridged_burst: $bb, direct_burst: $db, bridged_gzip: $bg, direct_gzip: $dg,
      bridged_pings: $bp, direct_pings: $dp}' | tee -a "$SAMPLES" >&2
done

mkdir -p "$(dirname "$OUT")"
jq -s --arg date "$(date -u +%FT%TZ)" --arg build "$build" \
  --arg commit "$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null)" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg burst "$BURST" --arg gburst "$GZIP_BURST" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: if . == null then null else (. * 100 | round) / 100 end;
  (map(.bridged_burst.mb_per_s) | median) as $bb | (map(.direct_burst.mb_per_s) | median) as $db |
  (map(.bridged_gzip.mb_per_s) | median) as $bg | (map(.direct_gzip.mb_per_s) | median) as $dg |
  (map(.bridged_pings.rounds_per_s) | median) as $bp | (map(.direct_pings.rounds_per_s) | median) as $dp |
  {
    date: $date, build: $build, commit: $commit, loadavg_after: $load, runs: length,
    method: "loopback; stand-in server --kaspa-listen; client --kaspa-connect to bridge B (→ libp2p → bridge A → server) and straight to the server, back to back per run; medians",
    burst_bytes: $burst, gzip_burst_bytes: $gburst,
    bridged: {burst_mb_per_s: ($bb | r2), burst_gzip_mb_per_s: ($bg | r2), ping_rounds_per_s: ($bp | r2)},
    direct_tcp: {burst_mb_per_s: ($db | r2), burst_gzip_mb_per_s: ($dg | r2), ping_rounds_per_s: ($dp | r2)},
    ratio_bridged_over_direct: {burst: ($bb / $db | r2), burst_gzip: ($bg / $dg | r2), ping_rounds: ($bp / $dp | r2)},
    added_latency_us_per_round_trip: ((1 / $bp - 1 / $dp) * 1e6 | round),
    samples: .
  }' "$SAMPLES" | tee "$OUT"
