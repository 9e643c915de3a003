#!/usr/bin/env bash
# holepunch dials js-libp2p: a js listener; our `ping` (identify + 3 pings), `echo`
# (64 concurrent streams + 16 MiB) and `perf` (16 MiB each way) against it; and our dial
# to the js address with the wrong peer ID must fail (Noise authenticates the peer).
# (wip_: renamed to test_ once the holepunch dialer commands exist.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

# Our dialer commands get a key in $WORK (without --key they would create one under $HOME).
step hp_keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/hp_keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"

start_bg js 60 node "$JS_PEER" listen
pid_js=$LAST_PID
addr="$(wait_for 20 "$WORK/js.out" 'e.event==="listening"' 'e.addr')"
jpeer="$(jq_first "$WORK/js.out" 'e.event==="listening"' 'e.peer')"
log "js listening at $addr"

step ping 30 "$HOLEPUNCH" ping "$addr" --count 3 --key "$WORK/hp.key" --log-format json
all="$(both ping)"
expect "$all" "e.event===\"identify\" && e.peer===\"$jpeer\" &&
  String(e.agent).startsWith('js-libp2p/') &&
  ['/ipfs/id/1.0.0','/ipfs/ping/1.0.0','/echo/1.0.0','/perf/1.0.0'].every(p => e.protocols.includes(p)) &&
  /^\/ip4\/127\.0\.0\.1\/tcp\/[0-9]+/.test(e.observed)" \
  "holepunch identified js (agent, protocols, observed address)"
n="$(grep -c '"event" *: *"ping"' "$all" || true)"
[ "$n" -ge 3 ] || fail "expected 3 ping events, got $n"
expect "$all" "e.event===\"ping\" && e.peer===\"$jpeer\" && typeof e.rtt_ms === 'number' && e.rtt_ms >= 0 && e.rtt_ms < 5000" "pings with RTTs"
# js saw our identify: our peer ID, a non-js agent, and the address we dialed as observed.
wait_for 10 "$WORK/js.out" "e.event===\"identify\" && e.peer===\"$hpeer\" && !String(e.agent).startsWith('js-libp2p/') &&
  e.protocols.includes('/ipfs/id/1.0.0') && String(e.observed).startsWith('${addr%%/p2p/*}')" >/dev/null
log "ok: js identified holepunch"

step echo 50 "$HOLEPUNCH" echo "$addr" --streams 64 --bytes 16777216 --key "$WORK/hp.key" --log-format json
expect "$(both echo)" 'e.event==="echo_result" && e.ok===true' "64 echo streams and 16 MiB against js"

step perf 50 "$HOLEPUNCH" perf "$addr" --upload 16777216 --download 16777216 --key "$WORK/hp.key" --log-format json
expect "$(both perf)" 'e.event==="perf" && e.upload_bytes===16777216 && e.download_bytes===16777216 &&
  e.upload_mbps > 0 && e.download_mbps > 0' "perf 16 MiB each way against js"

# Negative: the js listener's address with another peer ID must not connect.
step keygen 20 node "$JS_KEY" keygen "$WORK/other.key"
other="$(jq_first "$WORK/keygen.out" 'e.event==="key"' 'e.peer')"
rc=0
timeout -k 2 30 "$HOLEPUNCH" ping "${addr%%/p2p/*}/p2p/$other" --count 1 --key "$WORK/hp.key" --log-format json \
  >"$WORK/wrongpeer.out" 2>"$WORK/wrongpeer.err" || rc=$?
[ "$rc" -ne 124 ] || fail "ping with the wrong peer ID hung"
[ "$rc" -ne 0 ] || fail "ping with the wrong peer ID succeeded"
log "ok: dial with the wrong peer ID fails (rc=$rc)"
kill -0 "$pid_js" 2>/dev/null || fail "js listener exited"
log "PASS"
