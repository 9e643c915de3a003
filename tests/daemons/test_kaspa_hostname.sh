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

# The same for the flags that take HOST:PORT at start (issue 12): `server --kaspa-listen` and
# `bridge --kaspad` accept a name, resolved once when the daemon starts (kaspa_resolved).
start_bg named_listen 40 "$H" server --kaspa-listen localhost:0 --log-format json --ping-interval 0
wait_for 10 named_listen 'e.event === "kaspa_listen"' 'e.addr' | grep -qE '^127\.0\.0\.1:[0-9]+$' ||
  fail "server --kaspa-listen localhost:0 did not listen on 127.0.0.1"
expect named_listen 'e.event === "kaspa_resolved" && e.name === "localhost:0" && e.addr === "127.0.0.1:0"' \
  "server: --kaspa-listen localhost:0 resolved to 127.0.0.1:0"
NPORT="$(jfirst named_listen 'e.event === "kaspa_listen"' 'e.addr')"; NPORT="${NPORT##*:}"
step c2 20 "$H" client --kaspa-connect "127.0.0.1:$NPORT" --log-format json --pings 1
expect c2 'e.event === "kaspa_pings_done" && e.answered === 1' "client reached the server listening by name"

PEER=$("$H" id --key "$WORK/peer.key" 2>/dev/null || { "$H" keygen --key "$WORK/peer.key" >/dev/null 2>&1; "$H" id --key "$WORK/peer.key"; })
start_bg bridge 30 "$H" bridge --kaspad "localhost:$PORT" --testnet --netsuffix=10 --peer "$PEER" \
  --key "$WORK/bridge.key" --log-format json
for _ in $(seq 50); do grep -q "kaspad at" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
grep -q "kaspad at 127.0.0.1:$PORT, network kaspa-testnet-10" "$WORK/bridge.out" ||
  fail "bridge --kaspad localhost:$PORT --testnet --netsuffix=10: $(cat "$WORK/bridge.out" "$WORK/bridge.err")"
expect bridge 'e.event === "kaspa_resolved" && e.name === "localhost:'"$PORT"'" && e.addr === "127.0.0.1:'"$PORT"'"' \
  "bridge: --kaspad localhost resolved, --testnet --netsuffix=10 taken as kaspa-testnet-10"

# A name that does not resolve is a start-up error naming it (in an empty network namespace:
# the lookup fails at once and no query leaves the machine); a bare port says what to write.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  step_fails nx_listen 15 unshare -n "$H" server --kaspa-listen no-such-host.invalid:16111
  grep -q -- "--kaspa-listen no-such-host.invalid:16111: no address for no-such-host.invalid" "$WORK/nx_listen.err" ||
    fail "server: $(cat "$WORK/nx_listen.err")"
  step_fails nx_kaspad 15 unshare -n "$H" bridge --kaspad no-such-host.invalid:16111 --peer "$PEER"
  grep -q -- "--kaspad no-such-host.invalid:16111: no address for no-such-host.invalid" "$WORK/nx_kaspad.err" ||
    fail "bridge: $(cat "$WORK/nx_kaspad.err")"
  log "ok: unresolvable --kaspa-listen / --kaspad names are start-up errors naming the host"
fi
step_fails bare_kaspad 10 "$H" bridge --kaspad localhost --peer "$PEER"
grep -q -- "--kaspad localhost: expected HOST:PORT, e.g. 127.0.0.1:16111" "$WORK/bare_kaspad.err" ||
  fail "bridge --kaspad localhost: $(cat "$WORK/bare_kaspad.err")"
log "ok: bridge --kaspad without a port says what to write"
