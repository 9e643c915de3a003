#!/usr/bin/env bash
# /dns4 multiaddrs on loopback, resolved through /etc/hosts only (localhost; no outside
# resolver): a server reserves on a relay given as /dns4/localhost/tcp/PORT/p2p/RELAY, a
# client pings it through that relay by name, and a dial to a name that does not resolve
# fails with a dial_failed line naming it (checked in an empty network namespace).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)
grep -qE '^127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts || { log "SKIP: no localhost in /etc/hosts"; exit 77; }

start_bg relay 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" "${J[@]}"
RELAY=$(listen_addr relay)
RPORT=$(echo "$RELAY" | sed -E 's|.*/tcp/([0-9]+)/.*|\1|')
RID=${RELAY##*/}
NAMED="/dns4/localhost/tcp/$RPORT/p2p/$RID"
start_bg server 60 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$NAMED" \
  --key "$WORK/server.key" "${J[@]}"
wait_for 15 server 'e.event === "reservation"' 'e.relay' >/dev/null
expect server 'e.event === "dns_resolved" && e.to === "/ip4/127.0.0.1/tcp/'"$RPORT"'/p2p/'"$RID"'"' \
  "server resolved the relay's name"
SID=$("$H" id --key "$WORK/server.key")
step client 30 "$H" ping "$NAMED/p2p-circuit/p2p/$SID" --count 2 --key "$WORK/client.key" "${J[@]}"
[ "$(jcount client 'e.event === "ping"')" = 2 ] || fail "pings through the named relay"
log "ok: 2 pings through /dns4/localhost/.../p2p-circuit"

# A name that does not resolve: in a network namespace of its own (no interface up), so the
# lookup fails at once and no query can leave the machine.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  step_fails noname 15 unshare -n "$H" ping "/dns4/no-such-host.invalid/tcp/4001/p2p/$RID" \
    --count 1 "${J[@]}"
  expect noname 'e.event === "dial_failed" && /no-such-host.invalid does not resolve/.test(e.reason)' \
    "an unresolvable name fails the dial with a reason naming it"
else
  log "not checked: an unresolvable name (needs root for a network namespace)"
fi
