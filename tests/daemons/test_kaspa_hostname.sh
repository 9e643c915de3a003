#!/usr/bin/env bash
# `holepunch client --kaspa-connect localhost:PORT` (issue 12: names were refused): the name is
# resolved on the loop (kaspa_resolved {name, addr}), the session reaches Ready and 3 pings
# are answered. Only /etc/hosts is consulted (localhost): no outside resolver.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
grep -qE '^127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts || { log "SKIP: no localhost in /etc/hosts"; exit 77; }

start_bg server 40 "$H" server --kaspa-listen 127.0.0.1:0 --log-format json --ping-interval 0
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
PORT="${ADDR##*:}"
step c1 20 "$H" client --kaspa-connect "localhost:$PORT" --log-format json --pings 3
expect c1 'e.event === "kaspa_resolved" && e.name === "localhost:'"$PORT"'" && e.addr === "127.0.0.1:'"$PORT"'"' \
  "client: localhost resolved to 127.0.0.1"
expect c1 'e.event === "kaspa_pings_done" && e.sent === 3 && e.answered === 3' "client: 3 of 3 pings answered"

step_fails bad 10 "$H" client --kaspa-connect "localhost" --log-format json --pings 1
grep -q "expected HOST:PORT" "$WORK/bad.err" || fail "no clear error for a name without a port: $(cat "$WORK/bad.err")"
log "ok: a name without a port is refused with the reason"
