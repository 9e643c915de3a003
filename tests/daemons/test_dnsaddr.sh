#!/usr/bin/env bash
# /dnsaddr (and /dns4) multiaddrs against a real DNS server the test starts itself: dnsmasq
# on 127.0.0.1:53 inside a network namespace of its own (only lo: no query can leave the
# machine) and a private mount namespace whose /etc/resolv.conf names it. The zone:
#   _dnsaddr.relay.test  TXT dnsaddr=/dnsaddr/hop.relay.test/p2p/RELAY   (followed)
#                        TXT dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/RELAY (unusable)
#                        TXT dnsaddr=/ip4/127.0.0.1/tcp/PORT/p2p/OTHER   (another peer: skipped)
#                        TXT v=spf1 -all                                 (not a dnsaddr record)
#   _dnsaddr.hop.relay.test TXT dnsaddr=/ip4/127.0.0.1/tcp/DEAD/p2p/RELAY (refused: next one)
#                           TXT dnsaddr=/dns4/relay4.test/tcp/PORT/p2p/RELAY
#   relay4.test          A   127.0.0.1
#   _dnsaddr.d1..d6.test a chain deeper than the bound; _dnsaddr.loop.test points at itself
# A server reserves on /dnsaddr/relay.test/p2p/RELAY, a client pings it through
# /dnsaddr/relay.test/p2p/RELAY/p2p-circuit/p2p/SERVER; the bounded and the empty cases fail
# with a dial_failed line that says why. Then the relay moves to another port and the zone with
# it: the server's redial walks the records again and reserves there, with no restart.
set -euo pipefail
if [ -z "${DNSADDR_IN_NS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network and mount namespaces)" >&2; exit 77; }
  command -v dnsmasq >/dev/null || { echo "SKIP: no dnsmasq (Debian dnsmasq-base)" >&2; exit 77; }
  command -v unshare >/dev/null || { echo "SKIP: no unshare" >&2; exit 77; }
  DNSADDR_IN_NS=1 exec unshare --net --mount --propagation private -- bash "$0" "$@"
fi
# shellcheck source=tests/daemons/lib.sh
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)

ip link set lo up
echo "nameserver 127.0.0.1" >"$WORK/resolv.conf"
mount --bind "$WORK/resolv.conf" /etc/resolv.conf # this mount namespace only

start_bg relay 120 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" "${J[@]}"
RELAY=$(listen_addr relay)
RPORT=$(echo "$RELAY" | sed -E 's|.*/tcp/([0-9]+)/.*|\1|')
RID=${RELAY##*/}
RELAY_PID=$LAST_PID
"$H" keygen --key "$WORK/other.key" >/dev/null 2>&1
OTHER=$("$H" id --key "$WORK/other.key")
DEAD=1 # nothing listens on port 1 in this namespace: the dial is refused at once

# zone RPORT: writes the zone for a relay on RPORT and (re)starts dnsmasq with it.
DNSMASQ_PID=
zone() {
  local rport="$1"
  cat >"$WORK/dnsmasq.conf" <<EOF
no-resolv
no-hosts
local=/test/
listen-address=127.0.0.1
bind-interfaces
port=53
log-queries
log-facility=-
txt-record=_dnsaddr.relay.test,"dnsaddr=/dnsaddr/hop.relay.test/p2p/$RID"
txt-record=_dnsaddr.relay.test,"dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/$RID"
txt-record=_dnsaddr.relay.test,"dnsaddr=/ip4/127.0.0.1/tcp/$rport/p2p/$OTHER"
txt-record=_dnsaddr.relay.test,"v=spf1 -all"
# dnsmasq answers a name's records last-configured first: DEAD comes first.
txt-record=_dnsaddr.hop.relay.test,"dnsaddr=/dns4/relay4.test/tcp/$rport/p2p/$RID"
txt-record=_dnsaddr.hop.relay.test,"dnsaddr=/ip4/127.0.0.1/tcp/$DEAD/p2p/$RID"
host-record=relay4.test,127.0.0.1
txt-record=_dnsaddr.loop.test,"dnsaddr=/dnsaddr/loop.test/p2p/$RID"
EOF
  for i in 1 2 3 4 5 6; do
    echo "txt-record=_dnsaddr.d$i.test,\"dnsaddr=/dnsaddr/d$((i + 1)).test/p2p/$RID\"" >>"$WORK/dnsmasq.conf"
  done
  echo "txt-record=_dnsaddr.d7.test,\"dnsaddr=/ip4/127.0.0.1/tcp/$rport/p2p/$RID\"" >>"$WORK/dnsmasq.conf"
  if [ -n "$DNSMASQ_PID" ]; then
    kill "$DNSMASQ_PID"
    wait "$DNSMASQ_PID" 2>/dev/null || true
  fi
  start_bg dnsmasq 120 dnsmasq --keep-in-foreground --conf-file="$WORK/dnsmasq.conf" --pid-file=
  DNSMASQ_PID=$LAST_PID
  for _ in $(seq 50); do grep -q "started" "$WORK/dnsmasq.err" 2>/dev/null && break; sleep 0.1; done
  grep -q "started" "$WORK/dnsmasq.err" || fail "dnsmasq did not start: $(cat "$WORK/dnsmasq.err")"
}
zone "$RPORT"

NAMED="/dnsaddr/relay.test/p2p/$RID"
start_bg server 90 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$NAMED" \
  --reserve-backoff-max 2s --key "$WORK/server.key" "${J[@]}"
wait_for 20 server 'e.event === "reservation"' 'e.relay' >/dev/null
log "ok: the server holds a reservation on $NAMED"
expect server 'e.event === "dnsaddr_resolved" && e.addr === "'"$NAMED"'" && e.addrs === 2 && e.lookups === 2 && e.other_peer === 1 && e.unusable === 1' \
  "TXT walk: 2 lookups (one nested), 2 dialable addresses, the other peer's and the quic record skipped"
expect server 'e.event === "dnsaddr_dial" && e.to === "/ip4/127.0.0.1/tcp/'"$DEAD"'/p2p/'"$RID"'"' \
  "the refused address was tried"
expect server 'e.event === "dns_resolved" && e.addr === "/dns4/relay4.test/tcp/'"$RPORT"'/p2p/'"$RID"'" && e.to === "/ip4/127.0.0.1/tcp/'"$RPORT"'/p2p/'"$RID"'"' \
  "then the /dns4 record, resolved through the same dnsmasq"
grep -q "query\[TXT\] _dnsaddr.relay.test from 127.0.0.1" "$WORK/dnsmasq.err" ||
  fail "dnsmasq saw no TXT query for _dnsaddr.relay.test"
grep -q "query\[A\] relay4.test from 127.0.0.1" "$WORK/dnsmasq.err" ||
  fail "dnsmasq saw no A query for relay4.test"
log "ok: dnsmasq answered the TXT and A queries"

SID=$("$H" id --key "$WORK/server.key")
step client 30 "$H" ping "$NAMED/p2p-circuit/p2p/$SID" --count 2 --key "$WORK/client.key" "${J[@]}"
[ "$(jcount client 'e.event === "ping"')" = 2 ] || fail "pings through the /dnsaddr relay"
log "ok: 2 pings through $NAMED/p2p-circuit"

# The walk is bounded: a chain of 7 names stops at depth 4, a zone pointing at itself ends.
step_fails deep 20 "$H" ping "/dnsaddr/d1.test/p2p/$RID/p2p-circuit/p2p/$SID" --count 1 "${J[@]}"
expect deep 'e.event === "dial_failed" && /no dialable address for d1.test .*stopped: nested deeper than 4/.test(e.reason)' \
  "a chain deeper than 4 stops with the bound named"
[ "$(grep -c 'query\[TXT\] _dnsaddr.d[0-9].test' "$WORK/dnsmasq.err")" -le 5 ] ||
  fail "more TXT queries for the deep chain than the bound allows"
step_fails loop 20 "$H" ping "/dnsaddr/loop.test/p2p/$RID/p2p-circuit/p2p/$SID" --count 1 "${J[@]}"
expect loop 'e.event === "dial_failed" && /no dialable address for loop.test \(1 TXT lookups/.test(e.reason)' \
  "a self-referencing zone is looked up once"
step_fails none 20 "$H" ping "/dnsaddr/none.test/p2p/$RID" --count 1 "${J[@]}"
expect none 'e.event === "dial_failed" && /TXT _dnsaddr.none.test: Domain name not found/.test(e.reason)' \
  "a name without records fails with the resolver's answer"
# /dnsaddr carries no port: anything after the name but /p2p/ID is refused with the shape.
step_fails shape 10 "$H" ping "/dnsaddr/relay.test/tcp/4001/p2p/$RID" --count 1 "${J[@]}"
expect shape 'e.event === "dial_failed" && /write \/dnsaddr\/NAME\/p2p\/<peer-id>/.test(e.reason)' \
  "/dnsaddr/NAME/tcp/PORT is refused with the shape to write"

# Re-resolved on reconnect: the relay moves to another port (same key) and the zone follows;
# the server's reservation keeper walks the TXT records again and reserves on the new port.
kill "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null || true
start_bg relay2 60 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" "${J[@]}"
RELAY2=$(listen_addr relay2)
RPORT2=$(echo "$RELAY2" | sed -E 's|.*/tcp/([0-9]+)/.*|\1|')
[ "$RPORT2" != "$RPORT" ] || fail "the new relay got the same port"
zone "$RPORT2"
wait_for 30 server 'e.event === "reservation" && e.addrs.some(a => a.includes("/tcp/'"$RPORT2"'/"))' 'e.relay' >/dev/null
expect server 'e.event === "dns_resolved" && e.to === "/ip4/127.0.0.1/tcp/'"$RPORT2"'/p2p/'"$RID"'"' \
  "the redial looked the name up again and found the relay's new port"
log "ok: reservation moved with the zone to port $RPORT2 without a restart"
