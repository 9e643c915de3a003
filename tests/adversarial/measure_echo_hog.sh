#!/usr/bin/env bash
# Not a test (CTest runs test_*.sh only): the echo-hog attack of test_echo_hog.sh measured
# against one build with and without the memory budget in the same run, for the issue's
# before/after figures. The baseline lifts the budget out of reach (--max-conn-memory 64G
# --max-memory 64G), which is what the listener did before the budget existed.
#   HOLEPUNCH=build/release/holepunch bash tests/adversarial/measure_echo_hog.sh [CONNS...]
# Prints one line per (config, conns): bytes the victim accepted, its RSS peak, RSS 1 s after
# the attacker left, and a good peer's ping RTTs during the attack.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
HOG="${ADV_ECHO_HOG:-$(dirname "$HOLEPUNCH")/adv_echo_hog}"
[ -x "$HOG" ] || fail "$HOG not built"
new_key victim >/dev/null
CONNS=("${@:-1 4}")
# shellcheck disable=SC2206
CONNS=(${CONNS[*]})
for cfg in baseline budget; do
  extra=()
  [ "$cfg" = baseline ] && extra=(--max-conn-memory 64G --max-memory 64G)
  for n in "${CONNS[@]}"; do
    start_bg "v_${cfg}_$n" 60 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --log-format json \
      --key "$WORK/victim.key" --no-perf "${extra[@]}"
    vp="$(child_pid "$LAST_PID")"
    addr="$(listen_addr "v_${cfg}_$n")"
    sleep 0.5
    rss0="$(proc_kib "$vp" VmRSS)" peak=0
    start_bg "h_${cfg}_$n" 30 "$HOG" "$addr" --conns "$n" --streams 500 --seconds 8
    hp=$LAST_PID
    sleep 2
    start_bg "p_${cfg}_$n" 20 "$HOLEPUNCH" ping "$addr" --count 10 --interval 300ms --log-format json
    pp=$LAST_PID
    while kill -0 "$hp" 2>/dev/null; do
      r="$(proc_kib "$vp" VmRSS)"; [ "$r" -gt "$peak" ] && peak=$r; sleep 0.25
    done
    wait "$pp" || true
    sleep 1
    after="$(proc_kib "$vp" VmRSS)"
    sent="$(jfirst "$WORK/h_${cfg}_$n.out" 'e.event === "hog_done"' 'e.sent')"
    rtts="$(node -e 'const fs=require("fs");const r=[];for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n")){try{const e=JSON.parse(l);if(e.event==="ping")r.push(e.rtt_ms)}catch(_){}}r.sort((a,b)=>a-b);console.log(r.length+" answered, median "+r[r.length>>1]+" ms, max "+r[r.length-1]+" ms")' "$WORK/p_${cfg}_$n.err")"
    echo "{\"config\":\"$cfg\",\"conns\":$n,\"accepted\":$sent,\"rss_start_kib\":$rss0,\"rss_peak_kib\":$peak,\"rss_after_kib\":$after,\"pings\":\"$rtts\"}"
    kill "$vp" 2>/dev/null || true
    sleep 0.5
  done
done
