#!/usr/bin/env bash
# systemd readiness: with NOTIFY_SOCKET set (as a Type=notify unit runs it), a relay sends
# READY=1 only after its listener is up, and a reserving `listen` first says what it waits
# for (STATUS=no relay reservation held yet) and sends READY=1 only after the reservation is
# held. The NOTIFY_SOCKET end is a small Python datagram listener that stamps each message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)
command -v python3 >/dev/null || { log "SKIP: no python3"; exit 77; }

# notify_listener NAME: $WORK/NAME.sock, messages to $WORK/NAME.msgs as "<ms> <line>"
notify_listener() {
  start_bg "notify_$1" 60 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        data = s.recv(4096).decode()
        for line in data.split("\n"):
            if line:
                out.write("%d %s\n" % (int(time.time() * 1000), line)); out.flush()
' "$WORK/$1.sock" "$WORK/$1.msgs"
  local deadline=$((SECONDS + 5))
  until [ -S "$WORK/$1.sock" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "notify listener $1 did not start"
    sleep 0.05
  done
}
# msg_ms NAME LINE: time the first message LINE arrived (waits up to 15 s)
msg_ms() {
  local deadline=$((SECONDS + 15))
  while :; do
    local t
    t=$(awk -v l="$2" '{ m = $0; sub(/^[0-9]+ /, "", m); if (m == l) { print $1; exit } }' \
      "$WORK/$1.msgs" 2>/dev/null || true)
    [ -n "$t" ] && { echo "$t"; return 0; }
    [ "$SECONDS" -lt "$deadline" ] || fail "no '$2' from $1 (got: $(cat "$WORK/$1.msgs" 2>/dev/null))"
    sleep 0.1
  done
}

notify_listener relay
NOTIFY_SOCKET="$WORK/relay.sock" start_bg relay 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 \
  --key "$WORK/relay.key" "${J[@]}"
RELAY=$(listen_addr relay)
ready=$(msg_ms relay READY=1)
up=$(jfirst relay 'e.event === "listening"' 'e.ts')
[ "$ready" -ge "$up" ] || fail "relay READY=1 at $ready before listening at $up"
log "ok: relay READY=1 after its listener was up"

notify_listener server
NOTIFY_SOCKET="$WORK/server.sock" start_bg server 60 "$H" listen --listen /ip4/127.0.0.1/tcp/0 \
  --relay "$RELAY" --key "$WORK/server.key" "${J[@]}"
ready=$(msg_ms server READY=1)
reserved=$(wait_for 10 server 'e.event === "reservation"' 'e.ts')
[ "$ready" -ge "$reserved" ] || fail "listen READY=1 at $ready before its reservation at $reserved"
msg_ms server STATUS=serving >/dev/null
log "ok: listen READY=1 after the reservation was held ($(tr '\n' '|' <"$WORK/server.msgs"))"

notify_listener lonely
NOTIFY_SOCKET="$WORK/lonely.sock" start_bg lonely 30 "$H" listen --listen /ip4/127.0.0.1/tcp/0 \
  --relay "/ip4/127.0.0.1/tcp/1/p2p/$("$H" id --key "$WORK/relay.key")" --key "$WORK/lonely.key" "${J[@]}"
msg_ms lonely "STATUS=no relay reservation held yet" >/dev/null
sleep 1
! grep -q READY=1 "$WORK/lonely.msgs" || fail "READY=1 without a reservation"
log "ok: a listen whose relay is unreachable reports why and is not READY"
