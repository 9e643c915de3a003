#!/usr/bin/env bash
# Issue 9, "Kaspa Pings never read": a peer completes the handshake with
# `holepunch server --kaspa-listen`, then sends Kaspa Pings as fast as HTTP/2 lets it and never
# reads the Pongs (it never grants the server HTTP/2 window: tests/adversarial/h2_kaspa_pings.py).
# Before the fix every Pong waited in the server's send queue (20M Pings held 219 MB; here
# 2.3M Pings in 12 s grew the ASan server from 20 to 64 MiB, still growing). Now a reply the
# peer provokes is queued only while fewer than 4 MiB already wait for it: past that the
# session ends with "peer does not read our replies". Asserted: the attacker is sent away
# (GOAWAY, RST_STREAM or EOF) before its 3M Pings are all out, the log names the reason, the
# server's RSS grows by less than 24 MiB, and a good client completes a handshake and a ping.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=1"
start_bg server 50 "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:0 --log-format json \
  --ping-interval 0
SPID="$(child_pid "$LAST_PID")"
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
sleep 0.3
RSS0="$(proc_kib "$SPID" VmRSS)"

start_bg pings 30 python3 "$ADV_DIR/h2_kaspa_pings.py" 127.0.0.1 "${ADDR##*:}" 3000000 20
PINGS_PID=$LAST_PID
PEAK=$RSS0
while kill -0 "$PINGS_PID" 2>/dev/null; do
  r="$(proc_kib "$SPID" VmRSS)"
  [ "$r" -gt "$PEAK" ] && PEAK=$r
  sleep 0.25
done
wait "$PINGS_PID" || fail "the attacker failed"
alive_or_fail "$SPID" server
log "attacker: $(cat "$WORK/pings.out"); server RSS $RSS0 -> peak $PEAK KiB"
expect "$WORK/pings.out" 'e.event === "kaspa_pings" && e.ended !== null && e.pings < 3000000' \
  "the Ping flooder is sent away before its 3M Pings are out"
expect server 'e.event === "kaspa_session_closed" && /peer does not read our replies/.test(e.reason)' \
  "the server's log names the reason"
[ $((PEAK - RSS0)) -le $((24 * 1024)) ] || fail "the server's RSS grew by $((PEAK - RSS0)) KiB"
good_kaspa_client good "$ADDR"
alive_or_fail "$SPID" server
