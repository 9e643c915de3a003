#!/usr/bin/env bash
# Issue 9, "500 echo streams never read": a peer opens 500 /echo/1.0.0 streams, writes to each
# as fast as we grant window and never reads the echo (tests/adversarial/adv_echo_hog.c).
# Before the memory budget `holepunch listen` accepted 868 MB on one connection (RSS 762 MiB,
# this ASan build) and ~4x that on four. Now every stream's receive window and queued output
# is charged to a per-connection budget (--max-conn-memory, 32 MiB) and a per-process one
# (--max-memory, 64 MiB here): windows are withheld and new streams refused once a budget is
# spent, so:
#   - one connection: the victim accepts at most twice its connection budget (+ 4 MiB of
#     slack): what it holds, plus the 256 KiB of echo each open stream could still send the
#     attacker (its initial window), and open streams are bounded by budget / 256 KiB;
#   - four connections: at most twice the process budget plus each connection's 1 MiB floor;
#   - the victim's RSS grows by less than 128 MiB (one) and 256 MiB (four; ASan's redzones
#     and buffer capacity come on top of what is charged);
#   - a good peer pings the victim during each attack: every ping is answered;
#   - after the attacker leaves, RSS returns to within 48 MiB of where it started.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
HOG="${ADV_ECHO_HOG:-$(dirname "$HOLEPUNCH")/adv_echo_hog}"
[ -x "$HOG" ] || fail "$HOG not built (cmake --build BUILD --target adv_echo_hog)"
MIB=$((1024 * 1024))
CONN_BUDGET=$((32 * MIB))
PROC_BUDGET=$((64 * MIB))

new_key victim >/dev/null
start_bg victim 55 env ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1" "$HOLEPUNCH" listen \
  --listen /ip4/127.0.0.1/tcp/0 --log-format json --key "$WORK/victim.key" --no-perf \
  --max-memory 64M --metrics-listen 127.0.0.1:0
VPID="$(child_pid "$LAST_PID")"
ADDR="$(listen_addr victim)"
MURL="http://127.0.0.1:$(wait_for 10 victim 'e.event === "metrics_listening"' 'e.port')/metrics"
sleep 0.5
RSS0="$(proc_kib "$VPID" VmRSS)"
log "victim $ADDR, RSS at start $RSS0 KiB"

# attack NAME CONNS MAX_ACCEPTED: the hog for 8 s, a good peer pinging from the 2nd second on.
attack() {
  local name="$1" conns="$2" max="$3" peak=0 r
  start_bg "$name" 20 "$HOG" "$ADDR" --conns "$conns" --streams 500 --seconds 8
  local hog_pid=$LAST_PID
  sleep 2
  start_bg "${name}_ping" 20 "$HOLEPUNCH" ping "$ADDR" --count 10 --interval 300ms --log-format json
  local ping_pid=$LAST_PID
  while kill -0 "$hog_pid" 2>/dev/null; do
    r="$(proc_kib "$VPID" VmRSS)"
    [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.25
  done
  wait "$hog_pid" || fail "$name: the attacker failed"
  wait "$ping_pid" || fail "$name: the good peer's pings failed during the attack"
  alive_or_fail "$VPID" victim
  local sent rtts
  sent="$(jfirst "$WORK/$name.out" 'e.event === "hog_done"' 'e.sent')"
  rtts="$(jfirst "${name}_ping" 'e.event === "ping"' 'e.rtt_ms' >/dev/null && \
    node -e 'const fs=require("fs");const r=[];for(const l of fs.readFileSync(process.argv[1],"utf8").split("\n")){try{const e=JSON.parse(l);if(e.event==="ping")r.push(e.rtt_ms)}catch(_){}}r.sort((a,b)=>a-b);console.log(r.length+" pings, median "+r[r.length>>1]+" ms, max "+r[r.length-1]+" ms")' "$WORK/${name}_ping.err")"
  log "$name: $conns conn(s) x 500 streams: victim accepted $sent bytes (limit $max), RSS peak $peak KiB (start $RSS0); good peer: $rtts"
  log "$name: $(jfirst "$WORK/$name.out" 'e.event === "hog_done"' 'JSON.stringify(e)')"
  [ "$(jcount "${name}_ping" 'e.event === "ping"')" -eq 10 ] || fail "$name: the good peer's 10 pings were not all answered"
  [ "$sent" -le "$max" ] || fail "$name: the victim accepted $sent bytes from a peer that never reads (limit $max)"
  PEAK=$peak
}

attack one 1 $((2 * CONN_BUDGET + 4 * MIB))
[ $((PEAK - RSS0)) -le $((128 * 1024)) ] || fail "one connection grew the victim's RSS by $((PEAK - RSS0)) KiB"
attack four 4 $((2 * (PROC_BUDGET + 4 * MIB) + 16 * MIB))
[ $((PEAK - RSS0)) -le $((256 * 1024)) ] || fail "four connections grew the victim's RSS by $((PEAK - RSS0)) KiB"
expect victim 'e.event === "stream_refused" && /memory/.test(e.reason)' "streams past the budget are refused with a reason"
sleep 1
RSS1="$(proc_kib "$VPID" VmRSS)"
log "RSS after the attacks $RSS1 KiB (start $RSS0)"
[ $((RSS1 - RSS0)) -le $((48 * 1024)) ] || fail "the victim kept $((RSS1 - RSS0)) KiB after the attacker left"
# The budget's metrics saw the push-back, and every charge went with the attacker's streams.
curl -sf "$MURL" >"$WORK/m.txt" || fail "the victim's /metrics did not answer"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/m.txt"; }
refused=$(metric holepunch_memory_budget_streams_refused_total)
cut=$(metric holepunch_memory_budget_grants_cut_total)
used=$(metric holepunch_memory_budget_used_bytes)
[ "$(metric holepunch_memory_budget_limit_bytes)" = $PROC_BUDGET ] || fail "budget limit metric is not --max-memory 64M"
[ -n "$refused" ] && [ "${refused%.*}" -gt 0 ] || fail "streams_refused_total = '$refused' after two attacks"
[ -n "$cut" ] && [ "${cut%.*}" -gt 0 ] || fail "grants_cut_total = '$cut' after two attacks"
[ -n "$used" ] && [ "${used%.*}" -le $((4 * MIB)) ] || fail "the budget still holds $used bytes after the attacker left"
log "ok: /metrics: $refused streams refused, $cut grants cut, $used bytes charged after the attacks"
step ping_after 20 "$HOLEPUNCH" ping "$ADDR" --count 2 --interval 200ms --log-format json
alive_or_fail "$VPID" victim
