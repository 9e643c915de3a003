#!/usr/bin/env bash
# Hole-punch benchmark in the NAT lab (needs root): for each NAT combination and link
# condition, N clients behind NAT B dial a `holepunch listen` server behind NAT A through
# our relay; DCUtR runs and we record whether it punched, after how many attempts, and how
# long relayed → direct took, in ms and in RTTs.
#
#   bash bench/punch.sh [BUILD_DIR] [--runs N] [--cases LIST] [--out FILE]
#     BUILD_DIR  default build/release (holepunch and tapdelay are needed)
#     --runs     runs per case (default 20; `--runs 100` by hand)
#     --cases    comma list of NAT_A/NAT_B[+delay][+loss] (default: all 12 below)
#     --out      default bench/results/punch.json
#
# PUNCH_DELAY_MS (default 50) sets the +delay cases.
# Cases: eim/eim, restricted/restricted, eim/restricted, each plain, with 50 ms added on
# each router's public link (each direction: the a↔b RTT grows by 4 × 50 = 200 ms), with 1%
# loss on each router (each direction), and with both.
#
# Measures, per successful run:
#   ms     the client's (DCUtR A's) direct_connected.ms_since_relayed: from its relayed
#          connection being ready to the punched connection being ready (identify, DCUtR,
#          the simultaneous open, Noise XX, Yamux).
#   rtt    the server's (DCUtR B's) dcutr_attempt.rtt_ms: the relayed RTT DCUtR measured.
#   rtts   ms / rtt.
#   min    the protocol's floor: 1.5 RTT of DCUtR (CONNECT round trip, then SYNC and B's
#          RTT/2 wait) + 1 RTT of TCP handshake + 1.5 RTT of Noise XX = 4 RTT (the direct
#          path's RTT equals the relayed one here: the relay sits next to both routers).
# Each run uses a new client port, so no conntrack entry of an earlier run is reused.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$HERE/.." && pwd)
RUNS=20
CASES="eim/eim,restricted/restricted,eim/restricted,eim/eim+delay,restricted/restricted+delay,eim/restricted+delay,eim/eim+loss,restricted/restricted+loss,eim/restricted+loss,eim/eim+delay+loss,restricted/restricted+delay+loss,eim/restricted+delay+loss"
OUT=$SRC_DIR/bench/results/punch.json
build=build/release
while (($#)); do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --cases) CASES=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
  -*) echo "punch.sh: unknown option $1" >&2; exit 2 ;;
  *) build=$1; shift ;;
  esac
done
case $build in /*) ;; *) build=$SRC_DIR/$build ;; esac
BUILD_DIR=$build
HOLEPUNCH=$build/holepunch
export SRC_DIR BUILD_DIR HOLEPUNCH
# shellcheck source=../tests/lab/lib.sh
source "$SRC_DIR/tests/lab/lib.sh"
punch_need_root
punch_need_holepunch
[[ -x $build/tapdelay ]] || { echo "punch.sh: $build/tapdelay not built" >&2; exit 1; }

RUN_TIMEOUT=40 # s: B's three attempts (up to 10 s handshake timeout each) fit inside
punch_detect_wait_direct
[[ ${#WAIT_DIRECT[@]} -gt 0 ]] && WAIT_DIRECT=(--wait-direct $(((RUN_TIMEOUT + 5) * 1000)))
FAILDIR=${PUNCH_FAILDIR:-${TMPDIR:-/tmp}/punch-failures.$$}
SAMPLES=$PW/samples.jsonl
: >"$SAMPLES"

# one_run CASE I: prints nothing; appends one JSON sample.
one_run() {
  local cs=$1 i=$2 name
  name=run_$(tr '/+' '__' <<<"$cs")_$i
  CLI_PORT=$((4100 + i))
  # A new client identity per run: the server may still hold the previous run's direct
  # connection (with loss its close can take a while), and the host keeps one connection
  # per peer, so the same peer ID would have its new relayed connection refused.
  rm -f "$PW/cli.key"
  CLI_ID=$("$HOLEPUNCH" keygen --key "$PW/cli.key") || return 1
  local t0
  t0=$(($(date +%s%3N) - 1))
  # --wait-direct: nothing but identify and DCUtR on the relayed connection (no ping stream
  # there that the grace-period close would cut); older builds ping over the relay meanwhile.
  punch_client_bg "$name" ping --count 100 --interval 1000 --timeout $((RUN_TIMEOUT * 1000 + 5000)) \
    "${WAIT_DIRECT[@]}"
  local log=$PW/$name.log outcome=timeout end=$((SECONDS + RUN_TIMEOUT))
  local sflt=".peer == \"$CLI_ID\" and .ts >= $t0"
  while ((SECONDS < end)); do
    if jfirst "$log" direct_connected >/dev/null; then outcome=direct; break; fi
    if jfirst "$PW/srv.log" holepunch_gave_up "$sflt" >/dev/null; then outcome=gave_up; break; fi
    if ! kill -0 "${PIDS[srv]}" 2>/dev/null; then outcome=server_died; break; fi
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      sleep 0.2
      jfirst "$log" direct_connected >/dev/null && outcome=direct || outcome=client_exited
      break
    fi
    sleep 0.05
  done
  punch_stop "$name"
  local ms attempt rtt srv_ms
  ms=$(jfirst "$log" direct_connected true ms_since_relayed)
  # B (the server) counts DCUtR attempts; A logs every attempt as 1.
  attempt=$(jfirst "$PW/srv.log" direct_connected "$sflt" attempt)
  [[ -n $attempt ]] || attempt=$(jfirst "$log" direct_connected true attempt)
  srv_ms=$(jfirst "$PW/srv.log" direct_connected "$sflt" ms_since_relayed)
  # B's RTT for the attempt that worked (or its last one)
  rtt=$(jq -rR --argjson t0 "$t0" --arg p "$CLI_ID" \
    'fromjson? | select(.event == "dcutr_attempt" and .peer == $p and .ts >= $t0) | .rtt_ms' \
    <(grep '^{' "$PW/srv.log") 2>/dev/null | tail -n 1)
  jq -nc --arg case "$cs" --argjson i "$i" --arg outcome "$outcome" \
    --arg ms "${ms:-}" --arg srv_ms "${srv_ms:-}" --arg rtt "${rtt:-}" --arg attempt "${attempt:-}" \
    '{case: $case, run: $i, ok: ($outcome == "direct"), outcome: $outcome,
      ms: ($ms | tonumber? // null), server_ms: ($srv_ms | tonumber? // null),
      rtt_ms: ($rtt | tonumber? // null), attempt: ($attempt | tonumber? // null)}' >>"$SAMPLES"
  if [[ $outcome != direct ]]; then
    # keep the evidence: this run's client log and the server log so far
    mkdir -p "$FAILDIR"
    cp "$log" "$FAILDIR/" 2>/dev/null
    cp "$PW/srv.log" "$FAILDIR/srv.$name.log" 2>/dev/null
  fi
  if [[ $outcome == server_died ]]; then
    plog "server died (see its log); restarting it"
    cp "$PW/srv.log" "$PW/srv.died.$i.log"
    unset "PIDS[srv]"
    punch_start_server >/dev/null
  fi
  # Let the server drop the finished client before the next one arrives.
  sleep 0.2
}

run_case() {
  local cs=$1 nats=${1%%+*} a b
  a=${nats%/*}
  b=${nats#*/}
  local up=(--nat-a "$a" --nat-b "$b")
  [[ $cs == *+delay* ]] && up+=(--delay-a "${PUNCH_DELAY_MS:-50}" --delay-b "${PUNCH_DELAY_MS:-50}")
  [[ $cs == *+loss* ]] && up+=(--loss-a 1 --loss-b 1)
  if ! punch_lab_up "${up[@]}"; then
    echo "punch.sh: natlab up ${up[*]} failed" >&2
    return 1
  fi
  punch_start_relay >/dev/null || { echo "punch.sh: relay did not start" >&2; return 1; }
  punch_start_server >/dev/null || { echo "punch.sh: no reservation" >&2; return 1; }
  local i
  for ((i = 1; i <= RUNS; i++)); do
    one_run "$cs" "$i"
    printf '\r%-32s %3d/%d' "$cs" "$i" "$RUNS" >&2
  done
  printf '\n' >&2
  cp "$PW/srv.log" "$PW/srv.$(tr '/+' '__' <<<"$cs").log"
  punch_lab_down
}

IFS=, read -r -a case_list <<<"$CASES"
for cs in "${case_list[@]}"; do run_case "$cs" || FAILS=$((FAILS + 1)); done

# Aggregate: per case success rate, ms and RTTs (median, p90), attempts.
mkdir -p "$(dirname "$OUT")"
jq -s --argjson runs "$RUNS" --arg date "$(date -u +%FT%TZ)" --arg build "$build" \
  --arg commit "$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null)" \
  --arg kernel "$(uname -r)" '
  def pct(p): if length == 0 then null else sort | .[((length - 1) * p | floor)] end;
  def r1: if . == null then null else (. * 10 | round) / 10 end;
  {date: $date, build: $build, commit: $commit, kernel: $kernel, runs_per_case: $runs,
   min_rtts: 4.0,
   method: "ms = client (DCUtR A) direct_connected.ms_since_relayed; rtt = server (DCUtR B) dcutr_attempt.rtt_ms; min = 1.5 RTT DCUtR + 1 RTT TCP + 1.5 RTT Noise XX",
   cases: (group_by(.case) | map(
     (map(select(.ok))) as $ok |
     ($ok | map(select(.rtt_ms != null and .rtt_ms > 0) | .ms / .rtt_ms)) as $rtts |
     {case: .[0].case, runs: length, ok: ($ok | length),
      success_rate: (($ok | length) / length * 1000 | round / 1000),
      ms_median: ($ok | map(.ms) | pct(0.5)), ms_p90: ($ok | map(.ms) | pct(0.9)),
      ms_min: ($ok | map(.ms) | min), ms_max: ($ok | map(.ms) | max),
      rtt_ms_median: ($ok | map(.rtt_ms) | pct(0.5)),
      rtts_median: ($rtts | pct(0.5) | r1), rtts_p90: ($rtts | pct(0.9) | r1),
      min_ms_median: (($ok | map(.rtt_ms) | pct(0.5)) as $r | if $r == null then null else $r * 4 end),
      attempts: ($ok | group_by(.attempt) | map({key: (.[0].attempt | tostring), value: length}) | from_entries),
      failures: (map(select(.ok | not) | .outcome) | group_by(.) | map({key: .[0], value: length}) | from_entries),
      samples: map(del(.case))}))}' "$SAMPLES" >"$OUT" || { echo "punch.sh: aggregation failed" >&2; exit 1; }

printf '\n%-34s %7s %9s %8s %8s %8s %7s %7s %8s  %s\n' case success "ms med" "ms p90" "rtt ms" \
  "min ms" "RTTs" "p90" attempts failures
jq -r '.cases[] | [.case, "\(.ok)/\(.runs)", (.ms_median // "-"), (.ms_p90 // "-"),
  (.rtt_ms_median // "-"), (.min_ms_median // "-"), (.rtts_median // "-"), (.rtts_p90 // "-"),
  (.attempts | to_entries | map("\(.key):\(.value)") | join(",")),
  (.failures | to_entries | map("\(.key):\(.value)") | join(","))] | @tsv' "$OUT" |
  while IFS=$'\t' read -r c s m p r mn t tp at fl; do
    printf '%-34s %7s %9s %8s %8s %8s %7s %7s %8s  %s\n' "$c" "$s" "$m" "$p" "$r" "$mn" "$t" "$tp" "$at" "$fl"
  done
echo
echo "RTTs = ms / the relayed RTT DCUtR measured; the floor is 4 RTTs (1.5 DCUtR + 1 TCP + 1.5 Noise XX)."
echo "wrote $OUT"
[[ -d $FAILDIR ]] && echo "logs of the runs that did not punch: $FAILDIR"
((FAILS == 0))
