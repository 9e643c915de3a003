#!/usr/bin/env bash
# A second daemon on a TCP port another process already listens on: `holepunch relay`,
# `holepunch listen` and `holepunch server --kaspa-listen` refuse to start (exit 1, "port N
# is already in use by another process") instead of sharing the port through SO_REUSEPORT,
# where the kernel would split incoming connections between the two; the first relay keeps
# serving (a reservation on it works).
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

start_bg first 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/first.key" --log-format json
FIRST_PID=$LAST_PID
FIRST="$(listen_addr first)"
PORT="$(echo "$FIRST" | sed -E 's|^/ip4/127.0.0.1/tcp/([0-9]+)/.*|\1|')"
log "first relay on port $PORT"

for cmd in relay listen; do
  step_fails "second_$cmd" 15 "$H" "$cmd" --listen "/ip4/127.0.0.1/tcp/$PORT" \
    --key "$WORK/second.key" --log-format json
  [ "$STEP_RC" -eq 1 ] || fail "second $cmd exit code $STEP_RC, want 1"
  expect "second_$cmd" "e.event === \"listen_failed\" && e.reason === \"port $PORT is already in use by another process\"" \
    "second $cmd names the port in use"
done

# The Kaspa TCP listener has the same check (it shares the TCP transport's port reuse).
step_fails second_kaspa 15 "$H" server --kaspa-listen "127.0.0.1:$PORT" --log-format json
[ "$STEP_RC" -eq 1 ] || fail "server --kaspa-listen exit code $STEP_RC, want 1"
expect second_kaspa "e.event === \"kaspa_tcp_listen_failed\" && e.reason === \"port $PORT is already in use by another process\"" \
  "server --kaspa-listen names the port in use"

kill -0 "$FIRST_PID" 2>/dev/null || fail "the first relay died"
start_listener_bg l1 l1 30 -- --relay "$FIRST"
wait_for 15 l1 'e.event === "reservation"' >/dev/null
log "ok: the first relay still serves (a reservation on it)"
