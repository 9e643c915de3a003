#!/usr/bin/env bash
# DCUtR (libp2p-wire.md A9) between js-libp2p 2.10 with @libp2p/dcutr 2.0.38 as "B" (it
# holds the relay reservation and starts DCUtR on the inbound relayed connection) and our
# `holepunch ping <circuit> --listen …` as "A" (we dial through the relay and answer), over
# loopback. js/dcutr_probe.mjs prints every HolePunch message js reads or writes, its dials
# and its connections.
#
# Phase 1, js as shipped: js skips the unilateral upgrade (our identify addresses are
#   loopback), sends CONNECT with all its addresses (listen and /p2p-circuit), reads our
#   CONNECT (our listen/observed address only), finds nothing public in it, sends no SYNC
#   and resets; 3 times. Our pings over the relayed connection all succeed.
# Phase 2, js with its private-address filter off (--allow-private): js reads our CONNECT,
#   sends SYNC, we dial js's listen address from our listen port as Noise initiator and
#   log direct_connected; js's own dial (initiator:false is dropped by libp2p 2.10, so it
#   is an ordinary outbound connection) reaches our listener too, js pings us over it and
#   closes the relayed connection. What happens to our ping command then is asserted.
# Phase 3, js dialing from a fixed port it advertises, with initiator:false honoured
#   (--punch-port): see the note there.
#
# DCUTR_RELAY=js (default) or ours picks the relay.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch
PROBE="$INTEROP_DIR/js/dcutr_probe.mjs"
RELAY_KIND="${DCUTR_RELAY:-js}"

# count FILE PRED : number of JSON lines in FILE matching PRED (JavaScript on `e`).
# shellcheck disable=SC2016  # the JavaScript is meant literally
count() {
  node -e '
    const [f, p] = process.argv.slice(1); const pred = new Function("e", `return (${p})`); let n = 0
    for (const l of require("fs").readFileSync(f, "utf8").split("\n")) {
      if (!l.startsWith("{")) continue; let e; try { e = JSON.parse(l) } catch { continue }
      try { if (pred(e)) n++ } catch {}
    }
    console.log(n)' "$1" "$2"
}
# none FILE PRED WHAT : fails the test if some line matches.
none() {
  if jq_first "$1" "$2" >/dev/null; then fail "$3 (found: $(jq_first "$1" "$2" | cut -c1-300))"; fi
  log "ok: $3"
}

if [ "$RELAY_KIND" = js ]; then
  start_bg relay 58 node "$JS_RELAY"
  RADDR="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addr')"
else
  start_bg relay 58 "$HOLEPUNCH" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" --log-format json
  RADDR="$(wait_for 20 "$WORK/relay.err" 'e.event==="listening"' 'e.addr')"
fi
log "relay ($RELAY_KIND) at $RADDR"

# start_js NAME [FLAGS] : a js DCUtR listener reserved on the relay; sets JPEER JLISTEN JCIRC.
start_js() {
  local name="$1"; shift
  start_bg "$name" 50 node "$PROBE" listen --relay "$RADDR" --timeout 45 "$@"
  JPEER="$(wait_for 20 "$WORK/$name.out" 'e.event==="listening"' 'e.peer')"
  JLISTEN="$(jq_first "$WORK/$name.out" 'e.event==="listening"' 'e.addr')"
  JCIRC="$(wait_for 20 "$WORK/$name.out" 'e.event==="reserved"' 'e.addr')"
  log "js listener $JPEER at $JLISTEN, reserved as $JCIRC"
}

# ---- phase 1: js as shipped -------------------------------------------------------------------
start_js js1
P1="$WORK/js1.out"
step hp1 30 "$HOLEPUNCH" ping "$JCIRC" --listen /ip4/127.0.0.1/tcp/0 --count 4 --interval 500 \
  --timeout 20000 --log-format json
H1="$WORK/hp1.err"
HPEER="$(jq_first "$H1" 'e.event==="listening"' 'e.addr.split("/p2p/")[1]')"
HLISTEN="$(jq_first "$H1" 'e.event==="listening"' 'e.addr.split("/p2p/")[0]')"
expect "$P1" "e.event==='dcutr_start' && e.role==='B' && e.peer==='$HPEER'" \
  "js (B) started DCUtR on our inbound relayed connection"
expect "$P1" "e.event==='dcutr_log' && e.msg.includes('has no public addresses, not attempting unilateral')" \
  "js skipped the unilateral upgrade (our identify addresses are loopback)"
expect "$P1" "e.event==='dcutr_msg' && e.role==='B' && e.dir==='sent' && e.stream===1 && e.type==='CONNECT' &&
  e.addrs.includes('$JLISTEN') && e.addrs.includes('$JCIRC')" \
  "js's CONNECT carries its listen address and its /p2p-circuit address"
expect "$P1" "e.event==='dcutr_msg' && e.dir==='recv' && e.stream===1 && e.type==='CONNECT' &&
  JSON.stringify(e.addrs)===JSON.stringify(['$HLISTEN'])" \
  "we answered CONNECT with exactly our listen/observed address $HLISTEN"
none "$P1" "e.event==='dcutr_msg' && e.dir==='recv' && e.addrs.some(a => a.includes('/p2p-circuit'))" \
  "no CONNECT of ours carried a /p2p-circuit address"
none "$P1" "e.event==='dcutr_msg' && e.type==='SYNC'" "js sent no SYNC"
expect "$P1" "e.event==='dcutr_log' && e.level==='error' && e.error==='InvalidMessageError: DCUtR connect message had no multiaddrs'" \
  "js rejected our CONNECT: loopback is not a public address to @libp2p/dcutr"
none "$P1" "e.event==='dcutr_dial'" "js made no DCUtR dial"
n="$(count "$P1" "e.event==='dcutr_msg' && e.dir==='sent' && e.type==='CONNECT'")"
[ "$n" = 3 ] || fail "js sent $n CONNECTs, want 3 (its 3 attempts)"
n="$(count "$P1" "e.event==='dcutr_msg' && e.dir==='recv' && e.type==='CONNECT'")"
[ "$n" = 3 ] || fail "js read $n CONNECTs from us, want 3 (we answer every attempt)"
log "ok: 3 attempts, each CONNECT answered by us and dropped by js"
n="$(count "$H1" "e.event==='dcutr_failed' && e.peer==='$JPEER' && e.reason==='dcutr stream closed early'")"
[ "$n" = 3 ] || fail "we logged $n dcutr_failed 'dcutr stream closed early', want 3"
log "ok: we logged each reset as dcutr_failed (dcutr stream closed early)"
none "$H1" "(e.event==='dcutr_attempt' || e.event==='direct_connected') && e.peer==='$JPEER'" \
  "no dial and no direct connection on our side"
n="$(count "$H1" "e.event==='ping' && e.peer==='$JPEER'")"
[ "$n" = 4 ] || fail "$n of 4 pings over the relayed connection"
log "ok: 4 pings over the relayed connection"

# ---- phase 2: js with the private-address filter off -------------------------------------------
start_js js2 --allow-private
P2="$WORK/js2.out"
H2="$WORK/hp2.err"
log "holepunch ping $JCIRC (we = A)"
rc=0
timeout -k 2 30 "$HOLEPUNCH" ping "$JCIRC" --listen /ip4/127.0.0.1/tcp/0 --count 5 --interval 1000 \
  --timeout 20000 --log-format json >"$WORK/hp2.out" 2>"$H2" || rc=$?
[ "$rc" -ne 124 ] || fail "holepunch ping timed out"
HPEER="$(jq_first "$H2" 'e.event==="listening"' 'e.addr.split("/p2p/")[1]')"
HLISTEN="$(jq_first "$H2" 'e.event==="listening"' 'e.addr.split("/p2p/")[0]')"
JL="${JLISTEN%/p2p/*}"
expect "$P2" "e.event==='dcutr_msg' && e.dir==='sent' && e.type==='CONNECT' && e.addrs.includes('$JCIRC')" \
  "js's CONNECT again carries its /p2p-circuit address"
expect "$P2" "e.event==='dcutr_msg' && e.dir==='recv' && e.type==='CONNECT' &&
  JSON.stringify(e.addrs)===JSON.stringify(['$HLISTEN'])" "we answered CONNECT with $HLISTEN"
expect "$P2" "e.event==='dcutr_msg' && e.dir==='sent' && e.type==='SYNC' && e.raw_hex==='0308ac02'" \
  "js sent SYNC"
expect "$H2" "e.event==='dcutr_attempt' && e.peer==='$JPEER' && e.role==='A' && e.attempt===1 && e.addrs===1" \
  "on SYNC we dialed js's one TCP address (its /p2p-circuit address dropped)"
expect "$H2" "e.event==='direct_connected' && e.peer==='$JPEER' && e.addr==='$JL' && e.role==='initiator'" \
  "we logged direct_connected to js's listen address as Noise initiator (A)"
expect "$P2" "e.event==='conn_open' && e.peer==='$HPEER' && e.direction==='inbound' && e.limited===false &&
  e.remote_addr.startsWith('$HLISTEN/')" "js accepted our punch dial, which came from our listen port"
expect "$P2" "e.event==='dcutr_dial' && e.initiator_opt===false && JSON.stringify(e.addrs)===JSON.stringify(['$HLISTEN'])" \
  "js (B) dialed our address with initiator:false"
expect "$P2" "e.event==='dcutr_dial_result' && e.ok===true && e.limited===false && e.direction==='outbound'" \
  "js's dial connected as an outbound (initiator) connection: libp2p 2.10 drops initiator:false"
expect "$H2" "e.event==='connected' && e.peer==='$JPEER' && e.direction==='inbound' && e.relayed===false" \
  "our listener accepted js's dial as an ordinary inbound connection (we responder, js initiator)"
expect "$P2" "e.event==='direct_ping' && e.ok===true && e.direction==='outbound' && e.limited===false" \
  "js pinged us over its direct connection"
expect "$P2" "e.event==='conn_close' && e.peer==='$HPEER' && e.limited===true" \
  "js closed the relayed connection right after its dial"
# Our ping command keeps its stream on the connection it dialed (the relayed one), so js
# closing that connection ends it (reported gap: it should move to the direct connection).
if [ "$rc" -eq 0 ]; then
  n="$(count "$H2" "e.event==='ping' && e.peer==='$JPEER'")"
  [ "$n" = 5 ] || fail "ping exited 0 after $n of 5 pings"
  log "ok: our ping command survived the switch to the direct connection"
else
  expect "$H2" "e.event==='ping_failed' && e.peer==='$JPEER' && e.reason==='closed'" \
    "our ping stream on the relayed connection was closed"
  dc="$(jq_first "$H2" "e.event==='direct_connected'" 'e.ts')"
  pf="$(jq_first "$H2" "e.event==='ping_failed'" 'e.ts')"
  [ "$pf" -ge "$dc" ] || fail "ping_failed ($pf) came before direct_connected ($dc)"
  log "KNOWN GAP: holepunch ping exited $rc: its stream stayed on the relayed connection js closed after the punch"
fi

# ---- phase 3: js dialing from a fixed port, with initiator:false honoured ------------------------
# --punch-port P: js's CONNECT carries only 127.0.0.1:P and its DCUtR dial goes straight to
# the transport from P with initiator:false (B = Noise responder, as DCUtR wants). We dial
# P at once on SYNC, js only RTT/2 after sending it: on one host our SYN usually reaches P
# before js has bound it and is refused (behind a NAT it would be dropped instead). js's
# SYN from P then reaches our listener. Either we claim it by its 4-tuple as A (initiator)
# and log direct_connected, or (what we do today) our punch has already ended on the
# refusal, the connection is treated as an ordinary inbound one (responder), both ends
# wait as responders and it dies (reported gap). Both outcomes are asserted precisely.
PP="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
start_js js3 --allow-private --punch-port "$PP"
P3="$WORK/js3.out"
H3="$WORK/hp3.err"
rc=0
timeout -k 2 30 "$HOLEPUNCH" ping "$JCIRC" --listen /ip4/127.0.0.1/tcp/0 --count 5 --interval 1000 \
  --timeout 20000 --log-format json >"$WORK/hp3.out" 2>"$H3" || rc=$?
[ "$rc" -ne 124 ] || fail "holepunch ping timed out"
HLISTEN="$(jq_first "$H3" 'e.event==="listening"' 'e.addr.split("/p2p/")[0]')"
expect "$P3" "e.event==='dcutr_msg' && e.dir==='sent' && e.type==='CONNECT' &&
  JSON.stringify(e.addrs)===JSON.stringify(['/ip4/127.0.0.1/tcp/$PP/p2p/$JPEER'])" "js's CONNECT carries only its punch port $PP"
expect "$P3" "e.event==='dcutr_msg' && e.dir==='sent' && e.type==='SYNC'" "js sent SYNC"
expect "$H3" "e.event==='dcutr_attempt' && e.peer==='$JPEER' && e.role==='A' && e.attempt===1" "on SYNC we dialed $PP"
expect "$P3" "e.event==='dcutr_dial' && e.initiator_opt===false && e.punch_port===$PP &&
  JSON.stringify(e.addrs)===JSON.stringify(['$HLISTEN'])" "js dialed our listen address from $PP with initiator:false"
if jq_first "$H3" "e.event==='direct_connected' && e.peer==='$JPEER'" >/dev/null; then
  expect "$H3" "e.event==='direct_connected' && e.peer==='$JPEER' && e.addr==='/ip4/127.0.0.1/tcp/$PP' &&
    e.role==='initiator'" "we logged direct_connected to $PP as initiator (A)"
  expect "$P3" "e.event==='dcutr_dial_result' && e.ok===true && e.direction==='inbound'" \
    "js's dial came up with js as responder (initiator:false honoured)"
else
  expect "$H3" "e.event==='connection_failed' && e.peer==='$JPEER' && e.addr==='/ip4/127.0.0.1/tcp/$PP' &&
    e.stage==='dial' && e.reason==='connection refused'" "our SYN to $PP was refused (js had not bound it yet)"
  expect "$H3" "e.event==='holepunch_gave_up' && e.peer==='$JPEER'" "our punch (A) ended on that refusal"
  expect "$P3" "e.event==='dcutr_dial_result' && e.ok===false" \
    "js's dial from $PP did not complete"
  expect "$H3" "e.event==='connection_failed' && e.addr==='/ip4/127.0.0.1/tcp/$PP' && e.peer==='' &&
    e.stage==='multistream'" "our listener held js's connection from $PP in multistream, unauthenticated, until it ended (both ends responders)"
  log "KNOWN GAP: js's crossing connection from $PP arrived after our punch ended, so it was not claimed with A's role"
fi
log "PASS"
