#!/usr/bin/env bash
# Issue 9, SIGPIPE: hundreds of HTTP/2 openings closed at once (half of them with RST) against
# `holepunch server --kaspa-listen`. The server used to die of SIGPIPE (exit 141) after
# 200-300 of them, writing its SETTINGS to a reset socket. It must stay up and still serve a
# good Kaspa client.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch

# One address opens 25 at a time: the per-address cap (test_kaspa_conn_cap) is not under test.
start_bg server 40 "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:0 --log-format json \
  --ping-interval 0 --kaspa-max-connections-per-ip 0
SPID=$LAST_PID
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
log "server at $ADDR"

step attack 30 python3 "$ADV_DIR/h2_openings.py" 127.0.0.1 "${ADDR##*:}" 600
log "attack: $(cat "$WORK/attack.out")"
expect attack 'e.event === "h2_openings" && e.closed === 600 && e.refused === 0' \
  "all 600 openings were accepted (none refused by a dead server)"
sleep 0.5 # let the server finish writing to the dead sockets
alive_or_fail "$SPID" "server"
log "ok: the server survived 600 openings closed at once"
good_kaspa_client good "$ADDR"
alive_or_fail "$SPID" "server"
