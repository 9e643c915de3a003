#!/usr/bin/env bash
# holepunch bridge when the punch cannot work (A behind a symmetric NAT, B port-restricted):
# the relayed-fallback policy. Checks:
#   - without --relayed-fallback: B keeps the relayed connection to A, DCUtR fails, and
#     kaspad's connection to A's loopback endpoint is refused at once with a log line
#     naming the policy (never held open);
#   - with --relayed-fallback on both bridges: the same connection is served over the relay
#     circuit, logged relayed=true on both bridges, and the stand-ins handshake and ping.
set -uo pipefail
PUNCH_PREFIX=${PUNCH_PREFIX:-kf$$}
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (A symmetric, B restricted)" \
  punch_lab_up --nat-a symmetric --nat-b restricted || exit 1
check "relay listening" punch_start_relay || exit 1
punch_bg kaspad a "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:16111 --log-format json --ping-interval 0
check "stand-in kaspad listening" jwait "$PW/kaspad.log" kaspa_listen 10 || exit 1

# start_bridges SUFFIX [FLAGS...]: bridge A (reservation) and bridge B (A via the circuit).
start_bridges() {
  local sfx=$1
  shift
  punch_bg "bridgeA$sfx" a "$HOLEPUNCH" bridge --key "$PW/srv.key" --kaspad 127.0.0.1:16111 \
    --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" --peer "$CLI_ID" --log-format json "$@"
  jwait "$PW/bridgeA$sfx.log" reservation 15 || return 1
  punch_bg "bridgeB$sfx" b "$HOLEPUNCH" bridge --key "$PW/cli.key" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --peer "$SRV_ID,$(circuit_addr)" --log-format json "$@"
  jwait "$PW/bridgeB$sfx.log" bridge_peer_dial 20 '.result == "connected" and .relayed == true'
}
client() { # NAME SECS ENDPOINT ARGS...
  local name=$1 secs=$2 ep=$3
  shift 3
  timeout -k 2 "$secs" "$NATLAB" exec "$PL" b -- "$HOLEPUNCH" client --kaspa-connect "$ep" \
    --log-format json --ping-interval 0 "$@" >"$PW/$name.log" 2>&1
}

# ---- policy off: refused at once --------------------------------------------------------------
check "bridges up, B connected to A through the relay" start_bridges 1 || exit 1
EP=$(jfirst "$PW/bridgeB1.log" bridge_listen ".peer == \"$SRV_ID\"" addr)
check "DCUtR attempts fail (dcutr_failed on A)" jwait "$PW/bridgeA1.log" dcutr_failed 20
T0=$SECONDS
client refused 20 "$EP" --exit-after-ready
check "kaspad's connection ended within 5 s ($((SECONDS - T0)) s)" test $((SECONDS - T0)) -le 5
check "the client never reached Ready" test "$(jcount "$PW/refused.log" kaspa_ready)" = 0
check "bridge B refused it, naming the policy" \
  jfirst "$PW/bridgeB1.log" bridge_session_refused '.reason | test("relayed-fallback is off")'
check "no bridged session opened" test "$(jcount "$PW/bridgeB1.log" bridge_session_open)" = 0
check "no direct connection" test "$(jcount "$PW/bridgeB1.log" bridge_peer_direct)" = 0
punch_stop bridgeB1
punch_stop bridgeA1

# ---- policy on: served over the relay circuit, logged as such -----------------------------------
check "bridges up again with --relayed-fallback" start_bridges 2 --relayed-fallback || exit 1
check "client: Ready and 5 pings over the relay" client c2 30 "$EP" --pings 5
check "client: 5 of 5 pings answered" jfirst "$PW/c2.log" kaspa_pings_done '.answered == 5'
check "bridge B: outbound session relayed=true" \
  jfirst "$PW/bridgeB2.log" bridge_session_open '.direction == "outbound" and .relayed == true'
check "bridge A: inbound session relayed=true" \
  jwait "$PW/bridgeA2.log" bridge_session_open 5 '.direction == "inbound" and .relayed == true'
check "bridge A: the session closed with its byte counts, relayed=true" \
  jwait "$PW/bridgeA2.log" bridge_session_closed 10 '.relayed == true and .bytes_to_kaspad > 0'
punch_finish
