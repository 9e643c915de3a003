#!/usr/bin/env bash
# SIGHUP (what systemd's reload and logrotate send) no longer ends a daemon: a relay and a
# listener reserved on it each get SIGHUP, log `sighup`, and keep serving: the relay still
# carries a circuit to the listener and the listener still answers pings, direct and relayed.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
command -v pgrep >/dev/null || fail "pgrep not found (procps)"
H="$HOLEPUNCH"

LID="$(new_key l)"
new_key c >/dev/null
# The holepunch process itself, not its `timeout` wrapper: timeout forwards a signal and then
# SIGKILLs the child 2 s later (-k), which would pass for a death by SIGHUP.
child_of() { pgrep -P "$1" | head -n1; }

start_bg relay 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/r.key" --log-format json
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"
start_bg listener 60 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" \
  --key "$WORK/l.key" --log-format json
LISTENER_PID=$LAST_PID
ADDR="$(listen_addr listener)"
wait_for 15 listener 'e.event === "reservation"' >/dev/null
RELAY_PID="$(child_of "$RELAY_PID")"
LISTENER_PID="$(child_of "$LISTENER_PID")"
[ -n "$RELAY_PID" ] && [ -n "$LISTENER_PID" ] || fail "no holepunch processes under timeout"

kill -HUP "$RELAY_PID" "$LISTENER_PID"
wait_for 10 relay 'e.event === "sighup"' >/dev/null
wait_for 10 listener 'e.event === "sighup"' >/dev/null
sleep 2.5
kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay died of SIGHUP"
kill -0 "$LISTENER_PID" 2>/dev/null || fail "the listener died of SIGHUP"
log "ok: relay and listener logged sighup and are still running"

step ping_direct 30 "$H" ping "$ADDR" --count 2 --log-format json --key "$WORK/c.key"
[ "$(jcount ping_direct "e.event === 'ping' && e.rtt_ms >= 0")" -eq 2 ] ||
  fail "the listener did not answer 2 pings after SIGHUP"
step ping_relayed 30 "$H" ping "$RELAY/p2p-circuit/p2p/$LID" --count 2 --log-format json \
  --key "$WORK/c.key"
[ "$(jcount ping_relayed "e.event === 'ping' && e.rtt_ms >= 0")" -eq 2 ] ||
  fail "no 2 pings through the relay after SIGHUP"
expect relay "e.event === 'circuit_open'" "the relay opened a circuit after its SIGHUP"
log "ok: after SIGHUP the listener answers direct and relayed pings"

# And a second SIGHUP is not taken for a second stop signal.
kill -HUP "$RELAY_PID"
sleep 0.5
kill -0 "$RELAY_PID" 2>/dev/null || fail "the relay died of a second SIGHUP"
[ "$(jcount relay "e.event === 'sighup'")" -eq 2 ] || fail "the relay did not log the second sighup"
log "ok: a second SIGHUP is logged too, the relay keeps running"
