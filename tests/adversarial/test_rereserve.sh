#!/usr/bin/env bash
# Issue 9, re-reserve: with the relay down 150 s and then back, listeners reserved again only
# after 105 s (backoff doubling to 5 min). The backoff is capped (--reserve-backoff-max,
# default 20 s) with jitter below the cap: with a 20 s outage and a 2 s cap the listener holds
# a reservation again within 4 s of the relay's return (uncapped doubling: 1+2+4+8+16 s, so
# 11 s late), and a client reaches it through the relay again.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
OUTAGE_S=20
CAP=2s
MAX_LATE_MS=4000
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

start_bg relay 15 "$H" relay --listen "/ip4/127.0.0.1/tcp/$PORT" --key "$WORK/relay.key" --log-format json
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"
step keygen_l 10 "$H" keygen --key "$WORK/l.key"
L="$(peer_id_in "$WORK/keygen_l.out")"
start_bg listener 55 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" --key "$WORK/l.key" \
  --log-format json --reserve-backoff-max "$CAP"
wait_for 15 listener 'e.event === "reservation"' >/dev/null
kill -TERM "$RELAY_PID"
wait "$RELAY_PID" || true
log "relay down for ${OUTAGE_S} s"
sleep "$OUTAGE_S"
start_bg relay2 30 "$H" relay --listen "/ip4/127.0.0.1/tcp/$PORT" --key "$WORK/relay.key" --log-format json
BACK_MS="$(wait_for 10 relay2 'e.event === "listening"' 'e.ts')"
AGAIN_MS="$(wait_for 15 listener "e.event === 'reservation' && e.ts > $BACK_MS" 'e.ts')"
LATE=$((AGAIN_MS - BACK_MS))
log "reserved again ${LATE} ms after the relay's return ($(jcount listener 'e.event === "reservation_failed"') failed attempts during the outage)"
[ "$LATE" -le "$MAX_LATE_MS" ] || fail "the listener reserved again ${LATE} ms after the relay came back (limit ${MAX_LATE_MS} ms)"
step echo 15 "$H" echo "$RELAY/p2p-circuit/p2p/$L" --streams 1 --bytes 1K --log-format json
expect echo 'e.event === "echo_result" && e.ok === true' "a client reaches the listener through the relay again"
