#!/usr/bin/env bash
# Issue 9, Kaspa listener caps: 3,000 idle TCP connections to `server --kaspa-listen` were all
# accepted (RSS 9 -> 179 MB, 3,014 fds): no cap at all. The listener now caps connections in
# total (--kaspa-max-connections, 128) and per address (--kaspa-max-connections-per-ip, 8);
# past the total a newcomer evicts a peer that has not reached Ready from the address holding
# the most, if that address holds more than the newcomer's. Here 3,000 idle connections from
# 100 addresses (30 each) are held for 12 s: the server's fds stay under 200, its RSS grows by
# less than 64 MiB, and a good client from another address completes the handshake and a ping
# while they are held.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
MAX_FDS=200
MAX_GROWTH_KIB=$((64 * 1024))

start_bg server 50 "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:0 --log-format json --ping-interval 0
SPID="$(child_pid "$LAST_PID" 2>/dev/null || echo "$LAST_PID")"
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
sleep 0.3
RSS0="$(proc_kib "$SPID" VmRSS)"

start_bg idle 40 python3 "$ADV_DIR/idle_conns.py" 127.0.0.1 "${ADDR##*:}" 3000 12 --from 127.0.8 100
IDLE_PID=$LAST_PID
wait_for 20 idle 'e.event === "idle_conns_open"' >/dev/null
sleep 1
FDS="$(ls "/proc/$SPID/fd" | wc -l)"
RSS="$(proc_kib "$SPID" VmRSS)"
log "3,000 idle connections held: server fds $FDS, RSS $RSS0 -> $RSS KiB"
[ "$FDS" -le "$MAX_FDS" ] || fail "the server holds $FDS fds (limit $MAX_FDS): no connection cap"
[ $((RSS - RSS0)) -le "$MAX_GROWTH_KIB" ] || fail "the server's RSS grew by $((RSS - RSS0)) KiB"
good_kaspa_client good "$ADDR"
wait "$IDLE_PID" || true
log "idle: $(jfirst idle 'e.event === "idle_conns"' 'JSON.stringify(e)')"
alive_or_fail "$SPID" server
