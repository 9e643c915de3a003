#!/usr/bin/env bash
# Circuit Relay v2 server benchmarks (`holepunch relay`), each run REPS times (median):
#   1. reservations one relay process holds, and resident memory per reservation: N fresh
#      identities (bench_relay reserve, spread over 10 loopback addresses) reserve on a relay
#      whose limits are lifted; memory is measured against the idle relay, and against the
#      same N connections without reservations (what the reservation itself costs)
#   2. concurrent circuits and memory per circuit: bench_relay circuits (8 target identities
#      answer stop CONNECT and echo, 8 source connections carry C hop CONNECTs; every circuit
#      proves itself with a 16-byte probe echoed through it)
#   3. throughput through the relay: `holepunch perf` to a `holepunch listen` directly, through
#      our relay (--circuit-data 0 --circuit-duration 0) and through a js-libp2p relay
#      (tests/interop/js/relay.mjs, limits lifted); the same listener and client each time;
#      then js-libp2p endpoints (tests/interop/js/peer.mjs) through each relay: the relays
#      compared with everything else equal
#
#   bash bench/relay.sh [BUILD_DIR]     (default build/release)
# Environment: BENCH_REPS (3), BENCH_RELAY_RSV (10000), BENCH_RELAY_CIRCUITS (2000),
#              BENCH_RELAY_MIB (16 per direction), BENCH_RELAY_JS_MIB (2: the size both
#              relays are compared at; through js-libp2p's relay, 3 MiB or more stalls),
#              BENCH_JS=0 to skip js-libp2p.
# Prints a table and writes bench/results/relay.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-build/release}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
REPS="${BENCH_REPS:-3}"
NRSV="${BENCH_RELAY_RSV:-10000}"
NCIRC="${BENCH_RELAY_CIRCUITS:-2000}"
# Circuits ride CPEERS source and CPEERS target connections: at most ~63 streams each at the
# default budget, which refuses a stream past 32 MiB of windows per connection (128 × 256 KiB).
CPEERS=$(((NCIRC + 62) / 63))
[ "$CPEERS" -ge 8 ] || CPEERS=8
MIB="${BENCH_RELAY_MIB:-16}"
BYTES=$((MIB * 1024 * 1024))
JS_MIB="${BENCH_RELAY_JS_MIB:-2}"
JS_BYTES=$((JS_MIB * 1024 * 1024))
HP="$build/holepunch"
BR="$build/bench_relay"
for bin in holepunch bench_relay; do
  if [ ! -x "$build/$bin" ]; then
    echo "relay.sh: $build/$bin not built (cmake --build $build --target $bin)" >&2
    exit 1
  fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/lp2p-relaybench.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

log() { printf '[relay-bench] %s\n' "$*" >&2; }
die() { echo "relay.sh: $*" >&2; exit 1; }
field() { grep -o "\"$1\":[0-9.eE+-]*" | head -1 | cut -d: -f2; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{if(NR==0)print "null"; else print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="null"||b=="null"||a==""||b==""||b==0) print "null"; else printf "%.3f", a/b }'; }
jarr() { local IFS=,; printf '[%s]' "$*"; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
kib_per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN{ printf "%.2f", (a-b)/n }'; }

# addr_of FILE: the first `listening` address in a JSON log
addr_of() {
  grep -o '"event":"listening","addr":"[^"]*"' "$1" 2>/dev/null | head -1 |
    sed 's/.*"addr":"\([^"]*\)"/\1/' || true
}
wait_addr() {
  local a=""
  for _ in $(seq 200); do
    a="$(addr_of "$1")"
    [ -n "$a" ] && { echo "$a"; return 0; }
    sleep 0.05
  done
  cat "$1" >&2
  die "no listening address in $1"
}
# start_relay NAME ARGS...: our relay, limits as given; sets RPID and RADDR
start_relay() {
  local name="$1"; shift
  "$HP" relay --listen /ip4/127.0.0.1/tcp/0 --key "$tmp/$name.key" --log-format json \
    "$@" >"$tmp/$name.log" 2>&1 &
  RPID=$!
  pids+=("$RPID")
  RADDR="$(wait_addr "$tmp/$name.log")"
}
# bench_hold NAME ARGS...: bench_relay in the background until its result line; sets BPID
bench_hold() {
  local name="$1"; shift
  "$BR" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  BPID=$!
  pids+=("$BPID")
  for _ in $(seq 1200); do
    grep -q '"event":"bench_relay"' "$tmp/$name.out" 2>/dev/null && return 0
    kill -0 "$BPID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/$name.err" >&2
  die "bench_relay $1 gave no result"
}

NO_LIMITS=(--max-reservations 1000000 --max-reservations-per-ip 1000000
  --max-reservations-per-peer 1000000 --max-circuits 1000000 --max-circuits-per-peer 1000000 --max-circuits-per-pair 1000000
  --reserve-rate-peer 0/1s --reserve-rate-ip 0/1s --connect-rate-peer 0/1s
  --connect-rate-ip 0/1s --circuit-data 0 --circuit-duration 0 --max-connections 1000000 --max-connections-per-ip 0
  --max-connections-per-subnet 0)

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
t_start=$(date +%s)
log "build $build, $REPS runs each; $NRSV reservations, $NCIRC circuits, $MIB MiB per direction; load $load_before"

# src_ips A: spread bench_relay's dials over 10 source addresses from A when its fds allow (a
# listener per identity doubles them); otherwise all from 127.0.0.1 (tcp_tw_reuse covers the
# ports on loopback)
src_ips() { if [ $((NRSV * 2 + 64)) -le "$(ulimit -Hn)" ]; then echo "--ip $1 --ips 10"; fi; }
# ---- 1. reservations ------------------------------------------------------------------------
r_idle=() r_conns=() r_rsv=() r_ok=() r_per=() r_per_own=() r_per_conn=() r_secs=()
for r in $(seq "$REPS"); do
  # --log-level info is needed for the listening line; the per-reservation lines go to a file
  # the relay holds NRSV connections: its soft fd limit is raised to the hard one for this
  # process only (bench_relay raises its own with setrlimit)
  (ulimit -n "$(ulimit -Hn)" && exec "$HP" relay --listen /ip4/127.0.0.1/tcp/0 \
    --key "$tmp/rsv.key" --log-format json "${NO_LIMITS[@]}") >"$tmp/rsv$r.log" 2>&1 &
  RPID=$!
  pids+=("$RPID")
  RADDR="$(wait_addr "$tmp/rsv$r.log")"
  sleep 0.3
  idle="$(rss_kb "$RPID")"
  bench_hold "conns$r" reserve "$RADDR" "$NRSV" --no-reserve $(src_ips 127.0.3.1) --hold 120
  sleep 0.5
  conns="$(rss_kb "$RPID")"
  stop_pid "$BPID"
  sleep 1
  bench_hold "rsv$r" reserve "$RADDR" "$NRSV" $(src_ips 127.0.4.1) --hold 120
  sleep 0.5
  rsv="$(rss_kb "$RPID")"
  ok="$(field ok <"$tmp/rsv$r.out")"
  r_secs+=("$(field seconds <"$tmp/rsv$r.out")")
  stop_pid "$BPID"
  stop_pid "$RPID"
  [ "$ok" = "$NRSV" ] || die "only $ok of $NRSV reservations granted: $(cat "$tmp/rsv$r.out")"
  r_idle+=("$idle") r_conns+=("$conns") r_rsv+=("$rsv") r_ok+=("$ok")
  r_per+=("$(kib_per "$rsv" "$idle" "$NRSV")")
  r_per_conn+=("$(kib_per "$conns" "$idle" "$NRSV")")
  # the second phase reuses the first phase's freed connection memory, so rsv - conns is
  # what a reservation adds to a connection that is already there
  r_per_own+=("$(kib_per "$rsv" "$conns" "$NRSV")")
  log "reservations run $r: idle $idle KiB, $NRSV conns $conns KiB, $ok reservations $rsv KiB" \
    "($(kib_per "$rsv" "$idle" "$NRSV") KiB each incl. connection), granted in ${r_secs[-1]} s"
done

# ---- 2. circuits ------------------------------------------------------------------------------
c_idle=() c_held=() c_ok=() c_per=() c_secs=()
for r in $(seq "$REPS"); do
  "$HP" relay --listen /ip4/127.0.0.1/tcp/0 --key "$tmp/circ.key" --log-format json \
    --log-level info "${NO_LIMITS[@]}" >"$tmp/circ$r.log" 2>&1 &
  RPID=$!
  pids+=("$RPID")
  RADDR="$(wait_addr "$tmp/circ$r.log")"
  sleep 0.3
  idle="$(rss_kb "$RPID")"
  bench_hold "circ$r" circuits "$RADDR" "$NCIRC" --targets "$CPEERS" --peers "$CPEERS" --ip 127.0.5.1 \
    --ips 4 --hold 120
  sleep 0.5
  held="$(rss_kb "$RPID")"
  ok="$(field ok <"$tmp/circ$r.out")"
  c_secs+=("$(field seconds <"$tmp/circ$r.out")")
  stop_pid "$BPID"
  stop_pid "$RPID"
  [ "$ok" = "$NCIRC" ] || die "only $ok of $NCIRC circuits: $(cat "$tmp/circ$r.out")"
  c_idle+=("$idle") c_held+=("$held") c_ok+=("$ok")
  # 2 × CPEERS connections carry the circuits: their share (per-connection cost from part 1)
  # is taken out
  c_per+=("$(awk -v a="$held" -v b="$idle" -v n="$NCIRC" -v pc="$(median "${r_per_conn[@]}")" \
    -v nc="$((2 * CPEERS))" 'BEGIN{ printf "%.2f", (a - b - nc*pc)/n }')")
  log "circuits run $r: idle $idle KiB, $ok circuits $held KiB (${c_per[-1]} KiB each), set up in ${c_secs[-1]} s"
done

# ---- 3. throughput: direct, through our relay, through js-libp2p's relay ----------------------
js_ok=0 js_note=""
if [ "${BENCH_JS:-1}" = 0 ]; then
  js_note="skipped (BENCH_JS=0)"
elif ! command -v node >/dev/null 2>&1; then
  js_note="skipped (node not installed)"
elif ! bash "$root/tests/interop/npm-ci.sh" >"$tmp/npm.log" 2>&1; then
  js_note="skipped (tests/interop/npm-ci.sh failed)"
  cat "$tmp/npm.log" >&2
else
  js_ok=1
fi
start_relay ours "${NO_LIMITS[@]}"
OURS_PID=$RPID OURS="$RADDR"
relays=(--relay "$OURS")
if [ "$js_ok" = 1 ]; then
  (cd "$root/tests/interop" && exec node js/relay.mjs --write-key "$tmp/jsrelay.key" --timeout 3600 \
    --limit-bytes 1000000000000 --limit-seconds 36000) >"$tmp/jsrelay.out" 2>"$tmp/jsrelay.err" &
  JS_PID=$!
  pids+=("$JS_PID")
  JSR="$(wait_addr "$tmp/jsrelay.out")"
  relays+=(--relay "$JSR")
fi
"$HP" listen --listen /ip4/127.0.0.1/tcp/0 --key "$tmp/l.key" --log-format json "${relays[@]}" \
  >"$tmp/l.log" 2>&1 &
LPID=$!
pids+=("$LPID")
LADDR="$(wait_addr "$tmp/l.log")"
LID="${LADDR##*/}"
want=1
[ "$js_ok" = 1 ] && want=2
for _ in $(seq 300); do
  [ "$(grep -c '"event":"reservation"' "$tmp/l.log" || true)" -ge "$want" ] && break
  sleep 0.05
done
[ "$(grep -c '"event":"reservation"' "$tmp/l.log" || true)" -ge "$want" ] ||
  { cat "$tmp/l.log" >&2; die "the listener did not reserve on the relay(s)"; }

# perf NAME ADDR [BYTES]: sets UP and DOWN in MB/s (10^6 bytes). A transfer over a relayed
# connection stalls now and then, through our relay and through js-libp2p's alike (a bug in
# the relayed-connection path of our endpoints, reported); a run that does not finish in 15 s
# is counted in STALLS and repeated, up to 8 attempts.
STALLS=0
perf() {
  local line="" attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    line="$(timeout 15 "$HP" perf "$2" --upload "${3:-$BYTES}" --download "${3:-$BYTES}" \
      --key "$tmp/client.key" --log-format json >"$tmp/$1.out" 2>&1
      grep '"event":"perf"' "$tmp/$1.out")" || true
    [ -n "$line" ] && break
    STALLS=$((STALLS + 1))
    log "perf $1 attempt $attempt gave no result in 15 s (stall); again"
  done
  [ -n "$line" ] || { tail -5 "$tmp/$1.out" >&2; die "holepunch perf $1 gave no result in 8 attempts"; }
  grep -q '"relay_circuit"' "$tmp/$1.out" || [ "$1" = direct ] || die "perf $1 did not go through a circuit"
  UP="$(awk -v m="$(field upload_mbps <<<"$line")" 'BEGIN{printf "%.1f", m/8}')"
  DOWN="$(awk -v m="$(field download_mbps <<<"$line")" 'BEGIN{printf "%.1f", m/8}')"
}
os_up=() os_down=() d_up=() d_down=() o_up=() o_down=() j_up=() j_down=() p_od_up=() p_od_down=() p_oj_up=() p_oj_down=()
for r in $(seq "$REPS"); do
  perf direct "$LADDR"
  d_up+=("$UP") d_down+=("$DOWN")
  perf ours "$OURS/p2p-circuit/p2p/$LID"
  o_up+=("$UP") o_down+=("$DOWN")
  p_od_up+=("$(ratio "${o_up[-1]}" "${d_up[-1]}")") p_od_down+=("$(ratio "${o_down[-1]}" "${d_down[-1]}")")
  msg="throughput run $r: direct up ${d_up[-1]} down ${d_down[-1]} MB/s, our relay up ${o_up[-1]} down ${o_down[-1]}"
  if [ "$js_ok" = 1 ]; then
    # through js-libp2p's relay a transfer of 3 MiB or more stalls almost always (2.5 MiB
    # passes): both relays are compared at JS_MIB
    perf ours_small "$OURS/p2p-circuit/p2p/$LID" "$JS_BYTES"
    os_up+=("$UP") os_down+=("$DOWN")
    perf js "$JSR/p2p-circuit/p2p/$LID" "$JS_BYTES"
    j_up+=("$UP") j_down+=("$DOWN")
    p_oj_up+=("$(ratio "${os_up[-1]}" "${j_up[-1]}")") p_oj_down+=("$(ratio "${os_down[-1]}" "${j_down[-1]}")")
    msg="$msg; at $JS_MIB MiB: our relay up ${os_up[-1]} down ${os_down[-1]}, js relay up ${j_up[-1]} down ${j_down[-1]}"
  fi
  log "$msg"
done
relay_cpu="$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$OURS_PID/stat")"

# ---- 3b. the relays alone: js-libp2p endpoints (peer.mjs) through each relay ----------------
# Our endpoints stall now and then on a relayed connection; js endpoints do not, so this pair
# compares the two relays with everything else equal (and js's own speed as the ceiling).
jo_up=() jo_down=() jj_up=() jj_down=() p_jj_up=() p_jj_down=()
if [ "$js_ok" = 1 ]; then
  start_js_listener() { # NAME RELAY: a js listener reserved on RELAY; sets JL_ID
    (cd "$root/tests/interop" && exec node js/peer.mjs listen --relay "$2" --timeout 3600) \
      >"$tmp/$1.out" 2>"$tmp/$1.err" &
    pids+=("$!")
    JL_PIDS+=("$!")
    for _ in $(seq 200); do grep -q '"event":"reserved"' "$tmp/$1.out" 2>/dev/null && break; sleep 0.05; done
    grep -q '"event":"reserved"' "$tmp/$1.out" || { cat "$tmp/$1.err" >&2; die "js listener $1 did not reserve"; }
    JL_ID="$(addr_of "$tmp/$1.out")"
    JL_ID="${JL_ID##*/}"
  }
  JL_PIDS=()
  start_js_listener jl_ours "$OURS"
  JL_OURS="$JL_ID"
  start_js_listener jl_js "$JSR"
  JL_JS="$JL_ID"
  js_perf() { # NAME ADDR: sets UP DOWN (MB/s)
    local line
    line="$(cd "$root/tests/interop" && timeout 60 node js/peer.mjs dial "$2" --perf "$BYTES" \
      --timeout 50 2>"$tmp/$1.err" | grep '"event":"result"')" || true
    grep -q '"ok":true' <<<"$line" || { cat "$tmp/$1.err" >&2; die "js perf $1 failed: $line"; }
    UP="$(awk -v b="$BYTES" -v s="$(field upload_seconds <<<"$line")" 'BEGIN{printf "%.1f", b/s/1e6}')"
    DOWN="$(awk -v b="$BYTES" -v s="$(field download_seconds <<<"$line")" 'BEGIN{printf "%.1f", b/s/1e6}')"
  }
  for r in $(seq "$REPS"); do
    js_perf jdo "$OURS/p2p-circuit/p2p/$JL_OURS"
    jo_up+=("$UP") jo_down+=("$DOWN")
    js_perf jdj "$JSR/p2p-circuit/p2p/$JL_JS"
    jj_up+=("$UP") jj_down+=("$DOWN")
    p_jj_up+=("$(ratio "${jo_up[-1]}" "${jj_up[-1]}")") p_jj_down+=("$(ratio "${jo_down[-1]}" "${jj_down[-1]}")")
    log "js endpoints run $r ($MIB MiB): our relay up ${jo_up[-1]} down ${jo_down[-1]} MB/s," \
      "js relay up ${jj_up[-1]} down ${jj_down[-1]}"
  done
  for p in "${JL_PIDS[@]}"; do stop_pid "$p"; done
fi
stop_pid "$LPID"
stop_pid "$OURS_PID"
[ "$js_ok" = 1 ] && stop_pid "$JS_PID"

# ---- results ---------------------------------------------------------------------------------
m() { median "$@"; }
[ "$js_ok" = 1 ] || { j_up=(null) j_down=(null) os_up=(null) os_down=(null) p_oj_up=(null) p_oj_down=(null)
  jo_up=(null) jo_down=(null) jj_up=(null) jj_down=(null) p_jj_up=(null) p_jj_down=(null); }
M_r_idle=$(m "${r_idle[@]}") M_r_rsv=$(m "${r_rsv[@]}") M_r_per=$(m "${r_per[@]}")
M_r_own=$(m "${r_per_own[@]}") M_r_conn=$(m "${r_per_conn[@]}") M_r_secs=$(m "${r_secs[@]}")
M_c_held=$(m "${c_held[@]}") M_c_per=$(m "${c_per[@]}") M_c_secs=$(m "${c_secs[@]}")
M_d_up=$(m "${d_up[@]}") M_d_down=$(m "${d_down[@]}") M_o_up=$(m "${o_up[@]}") M_o_down=$(m "${o_down[@]}")
M_j_up=$(m "${j_up[@]}") M_j_down=$(m "${j_down[@]}")
M_os_up=$(m "${os_up[@]}") M_os_down=$(m "${os_down[@]}")
M_jo_up=$(m "${jo_up[@]}") M_jo_down=$(m "${jo_down[@]}") M_jj_up=$(m "${jj_up[@]}") M_jj_down=$(m "${jj_down[@]}")
R_jj_up=$(m "${p_jj_up[@]}") R_jj_down=$(m "${p_jj_down[@]}")
R_od_up=$(m "${p_od_up[@]}") R_od_down=$(m "${p_od_down[@]}")
R_oj_up=$(m "${p_oj_up[@]}") R_oj_down=$(m "${p_oj_down[@]}")
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
elapsed=$(($(date +%s) - t_start))
pct() { awk -v r="$1" 'BEGIN{ if (r=="null") print "-"; else printf "%.1f%%", r*100 }'; }
x() { awk -v r="$1" 'BEGIN{ if (r=="null") print "-"; else printf "%.2fx", r }'; }
{
  printf '\n%-50s %12s %12s   %s\n' "relay measurement (median of $REPS)" "value" "baseline" "ratio"
  printf '%-50s %12s %12s\n' "reservations held by one relay process" "$(m "${r_ok[@]}")" "of $NRSV"
  printf '%-50s %12s %12s\n' "  relay RSS idle / with them, KiB" "$M_r_idle" "$M_r_rsv"
  printf '%-50s %12s\n' "  KiB per reservation incl. its connection" "$M_r_per"
  printf '%-50s %12s\n' "  KiB per connection alone (no reservation)" "$M_r_conn"
  printf '%-50s %12s\n' "  KiB a reservation adds to its connection" "$M_r_own"
  printf '%-50s %12s\n' "  seconds to grant all (one client process)" "$M_r_secs"
  printf '%-50s %12s %12s\n' "concurrent circuits (probe echoed through each)" "$(m "${c_ok[@]}")" "of $NCIRC"
  printf '%-50s %12s\n' "  relay RSS with them, KiB" "$M_c_held"
  printf '%-50s %12s\n' "  KiB per circuit (16 carrier conns taken out)" "$M_c_per"
  printf '%-50s %12s\n' "  seconds to open all" "$M_c_secs"
  printf '%-50s %12s %12s   %s\n' "perf up, MB/s: our relay / direct" "$M_o_up" "$M_d_up" "$(pct "$R_od_up")"
  printf '%-50s %12s %12s   %s\n' "perf down, MB/s: our relay / direct" "$M_o_down" "$M_d_down" "$(pct "$R_od_down")"
  printf '%-50s %12s %12s   %s\n' "perf up at $JS_MIB MiB, MB/s: our relay / js relay" "$M_os_up" "$M_j_up" "$(x "$R_oj_up")"
  printf '%-50s %12s %12s   %s\n' "perf down at $JS_MIB MiB, MB/s: our relay / js relay" "$M_os_down" "$M_j_down" "$(x "$R_oj_down")"
  printf '%-50s %12s %12s   %s\n' "js endpoints up, MB/s: our relay / js relay" "$M_jo_up" "$M_jj_up" "$(x "$R_jj_up")"
  printf '%-50s %12s %12s   %s\n' "js endpoints down, MB/s: our relay / js relay" "$M_jo_down" "$M_jj_down" "$(x "$R_jj_down")"
  printf '%-50s %12s\n' "  our relay CPU seconds over all perf runs" "$relay_cpu"
  printf '%-50s %12s\n' "  perf attempts that stalled (retried)" "$STALLS"
  [ -n "$js_note" ] && printf 'js-libp2p: %s\n' "$js_note"
  printf 'ratios are medians of per-run ratios; load average before %s, after %s; %d s.\n' \
    "$load_before" "$load_after" "$elapsed"
}

mkdir -p "$here/results"
cat >"$here/results/relay.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)",
  "build": "$build",
  "cores": $(nproc),
  "loadavg_before": "$load_before",
  "loadavg_after": "$load_after",
  "reps": $REPS,
  "reservations": {
    "asked": $NRSV,
    "granted": {"median": $(m "${r_ok[@]}"), "runs": $(jarr "${r_ok[@]}")},
    "rss_idle_kib": {"median": $M_r_idle, "runs": $(jarr "${r_idle[@]}")},
    "rss_conns_only_kib": {"median": $(m "${r_conns[@]}"), "runs": $(jarr "${r_conns[@]}")},
    "rss_reserved_kib": {"median": $M_r_rsv, "runs": $(jarr "${r_rsv[@]}")},
    "kib_per_reservation_with_conn": {"median": $M_r_per, "runs": $(jarr "${r_per[@]}")},
    "kib_per_conn": {"median": $M_r_conn, "runs": $(jarr "${r_per_conn[@]}")},
    "kib_reservation_over_conn": {"median": $M_r_own, "runs": $(jarr "${r_per_own[@]}")},
    "seconds_to_grant": {"median": $M_r_secs, "runs": $(jarr "${r_secs[@]}")}
  },
  "circuits": {
    "asked": $NCIRC,
    "live": {"median": $(m "${c_ok[@]}"), "runs": $(jarr "${c_ok[@]}")},
    "rss_idle_kib": {"median": $(m "${c_idle[@]}"), "runs": $(jarr "${c_idle[@]}")},
    "rss_held_kib": {"median": $M_c_held, "runs": $(jarr "${c_held[@]}")},
    "kib_per_circuit": {"median": $M_c_per, "runs": $(jarr "${c_per[@]}")},
    "seconds_to_open": {"median": $M_c_secs, "runs": $(jarr "${c_secs[@]}")}
  },
  "throughput_MBps": {
    "transfer_bytes_each_way": $BYTES,
    "direct_up": {"median": $M_d_up, "runs": $(jarr "${d_up[@]}")},
    "direct_down": {"median": $M_d_down, "runs": $(jarr "${d_down[@]}")},
    "our_relay_up": {"median": $M_o_up, "runs": $(jarr "${o_up[@]}")},
    "our_relay_down": {"median": $M_o_down, "runs": $(jarr "${o_down[@]}")},
    "js_compare_bytes_each_way": $JS_BYTES,
    "our_relay_small_up": {"median": $M_os_up, "runs": $(jarr "${os_up[@]}")},
    "our_relay_small_down": {"median": $M_os_down, "runs": $(jarr "${os_down[@]}")},
    "js_relay_up": {"median": $M_j_up, "runs": $(jarr "${j_up[@]}")},
    "js_relay_down": {"median": $M_j_down, "runs": $(jarr "${j_down[@]}")},
    "js_endpoints_our_relay_up": {"median": $M_jo_up, "runs": $(jarr "${jo_up[@]}")},
    "js_endpoints_our_relay_down": {"median": $M_jo_down, "runs": $(jarr "${jo_down[@]}")},
    "js_endpoints_js_relay_up": {"median": $M_jj_up, "runs": $(jarr "${jj_up[@]}")},
    "js_endpoints_js_relay_down": {"median": $M_jj_down, "runs": $(jarr "${jj_down[@]}")},
    "our_relay_cpu_s": $relay_cpu,
    "stalled_attempts_retried": $STALLS
  },
  "ratios": {
    "our_relay_over_direct_up": $R_od_up,
    "our_relay_over_direct_down": $R_od_down,
    "our_relay_over_js_relay_up": $R_oj_up,
    "our_relay_over_js_relay_down": $R_oj_down,
    "js_endpoints_our_relay_over_js_relay_up": $R_jj_up,
    "js_endpoints_our_relay_over_js_relay_down": $R_jj_down,
    "runs_our_over_direct_up": $(jarr "${p_od_up[@]}"),
    "runs_our_over_direct_down": $(jarr "${p_od_down[@]}"),
    "runs_our_over_js_up": $(jarr "${p_oj_up[@]}"),
    "runs_our_over_js_down": $(jarr "${p_oj_down[@]}")
  },
  "js_note": "$js_note",
  "seconds": $elapsed
}
EOF
log "wrote bench/results/relay.json"
