#!/usr/bin/env bash
# holepunch bridge in the NAT lab (issue 10): our relay public, bridge A behind NAT A beside a
# stand-in kaspad (`holepunch server --kaspa-listen 127.0.0.1:16111`), bridge B behind NAT B
# and a stand-in kaspa client there connecting to B's loopback address for A (both NATs
# port-restricted: only the TCP simultaneous open of DCUtR gets through). Checks:
#   - B reaches A through the relay circuit, the punch succeeds (bridge_peer_direct naming
#     router A's public address), and every bridged session runs with relayed=false;
#   - Version/Verack/Ready and pings between the stand-ins end to end; the stand-in kaspad
#     sees the connection come from A's loopback address for B; both taps log the Versions;
#   - a 64 MiB burst arrives byte for byte: a digesting tee (byte_tee.py) in front of the
#     stand-in client and one in front of the stand-in kaspad see the same SHA-256 over the
#     client's bytes (and the bridge counters equal the client's); the relay's byte counters
#     stay flat (< 64 KiB) while it runs;
#   - 16 sessions in parallel, all Ready and all pings answered;
#   - killing bridge B closes the sessions on A and the stand-in kaspad cleanly;
#   - bridge B restarted with the same key punches again and the next client session runs
#     end to end with relayed=false, within a bound;
#   - garbage instead of HTTP/2 into B's loopback address for A ends only that session: a
#     concurrent good session keeps pinging and the peer connection stays up.
set -uo pipefail
PUNCH_PREFIX=${PUNCH_PREFIX:-kb$$}
# shellcheck source=tests/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (restricted/restricted)" punch_lab_up --nat-a restricted --nat-b restricted || exit 1
check "relay listening" punch_start_relay || exit 1

# A: stand-in kaspad behind a digesting tee (it connects from the address bridge A used, so the
# kaspad still sees A's loopback address for B) and bridge A (reservation on the relay, peer B
# configured: inbound only).
TEE=$(dirname "${BASH_SOURCE[0]}")/byte_tee.py
# Every bridged session reaches the stand-in from one address (A's loopback address for B), so
# its per-address cap (default 8, a guard for a public listener) is lifted for the 16-session step.
punch_bg kaspad a "$HOLEPUNCH" server --kaspa-listen 127.0.0.1:16112 --log-format json --ping-interval 0 \
  --kaspa-max-connections-per-ip 0
check "stand-in kaspad listening" jwait "$PW/kaspad.log" kaspa_listen 10 || exit 1
punch_bg teeA a python3 "$TEE" --listen 127.0.0.1:16111 --to 127.0.0.1:16112 --same-source
check "tee in front of the stand-in kaspad" jwait "$PW/teeA.log" tee_listen 10 || exit 1
punch_bg bridgeA a "$HOLEPUNCH" bridge --key "$PW/srv.key" --kaspad 127.0.0.1:16111 \
  --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" --peer "$CLI_ID" \
  --max-sessions-per-peer 32 --log-format json
check "bridge A reserved a slot on the relay" jwait "$PW/bridgeA.log" reservation 15 || exit 1
LO_A_FOR_B=$(jfirst "$PW/bridgeA.log" bridge_listen ".peer == \"$CLI_ID\"" addr)
LO_A_FOR_B=${LO_A_FOR_B%:*}

# B: bridge B with peer A reached through the relay circuit (it punches from there).
start_b() {
  punch_bg "$1" b "$HOLEPUNCH" bridge --key "$PW/cli.key" --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" \
    --peer "$SRV_ID,$(circuit_addr)" --max-sessions-per-peer 32 --log-format json
}
start_b bridgeB
check "bridge B: dialed A through the relay" \
  jwait "$PW/bridgeB.log" bridge_peer_dial 20 '.result == "connected" and .relayed == true'
check "bridge B: direct (punched) connection to A via router A" \
  jwait "$PW/bridgeB.log" bridge_peer_direct 25 ".addr | startswith(\"/ip4/$RA_PUB/tcp/\")" || exit 1
EP=$(jfirst "$PW/bridgeB.log" bridge_listen ".peer == \"$SRV_ID\"" addr)
check "bridge B printed the kaspad flag --connect=$EP" grep -q -- "--connect=$EP" "$PW/bridgeB.log"

# run_client NAME SECS ARGS...: the stand-in client behind NAT B, to B's endpoint for A (or
# to CEP when set).
# A --burst runs in the bench tool (bench/kaspa_load.c), the load modes' home; pings in the
# product's client.
run_client() {
  local name=$1 secs=$2
  shift 2
  local cmd=("$HOLEPUNCH" client)
  [[ " $* " == *" --burst "* ]] && cmd=("${HOLEPUNCH%/*}/kaspa_load")
  timeout -k 2 "$secs" "$NATLAB" exec "$PL" b -- "${cmd[@]}" --kaspa-connect "${CEP:-$EP}" \
    --log-format json --ping-interval 0 "$@" >"$PW/$name.log" 2>&1
}

# wait_count FILE EVENT N SECS: until FILE holds at least N EVENTs (or SECS pass).
wait_count() {
  local end=$((SECONDS + $4))
  until (($(jcount "$1" "$2") >= $3)); do ((SECONDS < end)) || return 1; sleep 0.1; done
}

# ---- handshake and pings -------------------------------------------------------------------------
check "client: Ready and 20 pings through both bridges" run_client c1 30 --pings 20
check "client: 20 of 20 pings answered" jfirst "$PW/c1.log" kaspa_pings_done '.sent == 20 and .answered == 20'
check "stand-in kaspad: the connection came from A's loopback address for B ($LO_A_FOR_B)" \
  jwait "$PW/kaspad.log" kaspa_handshake 5 ".addr | startswith(\"$LO_A_FOR_B:\")"
check "bridge A: inbound session relayed=false" \
  jfirst "$PW/bridgeA.log" bridge_session_open '.direction == "inbound" and .relayed == false'
check "bridge B: outbound session relayed=false" \
  jfirst "$PW/bridgeB.log" bridge_session_open '.direction == "outbound" and .relayed == false'
check "no session over the relay (A, B)" \
  test "$(jcount "$PW/bridgeA.log" bridge_session_open '.relayed == true')$(jcount "$PW/bridgeB.log" bridge_session_open '.relayed == true')" = 00
for side in local remote; do
  check "bridge A tap: $side Version" jfirst "$PW/bridgeA.log" bridge_peer_version ".side == \"$side\" and .network == \"kaspa-mainnet\""
  check "bridge B tap: $side Version" jfirst "$PW/bridgeB.log" bridge_peer_version ".side == \"$side\" and .protocol_version == 10"
done

# ---- 64 MiB burst; the relay stays out of it ---------------------------------------------------
punch_bg teeB b python3 "$TEE" --listen 127.0.0.1:17111 --to "$EP"
check "tee in front of the stand-in client" jwait "$PW/teeB.log" tee_listen 10
R1=$(relay_bytes)
CEP=127.0.0.1:17111 check "client: 64 MiB burst through the bridges" run_client burst 60 --burst 64M
R2=$(relay_bytes)
OUT=$(jfirst "$PW/burst.log" kaspa_session_closed true bytes_out)
check "bridge A delivered the client's $OUT bytes to the stand-in kaspad" \
  jwait "$PW/bridgeA.log" bridge_session_closed 5 ".bytes_to_kaspad == ${OUT:-0} and .bytes_to_kaspad > 67108864"
jwait "$PW/teeB.log" tee_closed 5
jwait "$PW/teeA.log" tee_closed 5 '.up_bytes > 67108864'
SENT=$(jfirst "$PW/teeB.log" tee_closed true up_sha256)
GOT=$(jfirst "$PW/teeA.log" tee_closed '.up_bytes > 67108864' up_sha256)
check "tee B saw all $OUT bytes the client sent" jfirst "$PW/teeB.log" tee_closed ".up_bytes == ${OUT:-0}"
check "the stand-in kaspad got the client's bytes unchanged (sha256 ${SENT:0:16}… = ${GOT:0:16}…)" \
  test -n "$SENT" -a "$SENT" = "$GOT"
echo "# burst $(jfirst "$PW/burst.log" kaspa_burst true mb_per_s) MB/s; relay bytes ${R1:-?} -> ${R2:-?}"
check "relay forwarded $((${R2:-0} - ${R1:-0})) bytes during the burst (< 64 KiB)" \
  test -n "$R1" -a -n "$R2" -a $((${R2:-0} - ${R1:-0})) -lt 65536

# ---- 16 sessions in parallel ---------------------------------------------------------------------
pids=()
for i in $(seq 1 16); do
  run_client "par$i" 40 --pings 5 &
  pids+=($!)
done
okn=0
for i in $(seq 1 16); do
  wait "${pids[$((i - 1))]}" && jfirst "$PW/par$i.log" kaspa_pings_done '.answered == 5' >/dev/null && okn=$((okn + 1))
done
check "16 parallel sessions: $okn of 16 Ready with 5 pings answered" test "$okn" = 16

# ---- killing bridge B closes both sides cleanly -----------------------------------------------------
punch_bg keep b "$HOLEPUNCH" client --kaspa-connect "$EP" --log-format json --ping-interval 0
check "long-lived client Ready" jwait "$PW/keep.log" kaspa_ready 15
NA=$(jcount "$PW/bridgeA.log" bridge_session_closed)
NK=$(jcount "$PW/kaspad.log" kaspa_session_closed)
punch_stop bridgeB
check "bridge B: its session closed on shutdown" \
  jfirst "$PW/bridgeB.log" bridge_session_closed '.reason == "bridge shutting down"'
check "bridge A closed its session when B went away" \
  jwait "$PW/bridgeA.log" bridge_session_closed 10
sleep 1
check "bridge A: one more closed session ($NA -> $(jcount "$PW/bridgeA.log" bridge_session_closed))" \
  test "$(jcount "$PW/bridgeA.log" bridge_session_closed)" -gt "$NA"
check "stand-in kaspad: the session closed too" \
  test "$(jcount "$PW/kaspad.log" kaspa_session_closed)" -gt "$NK"
check "client: its session closed" jwait "$PW/keep.log" kaspa_session_closed 5
check "bridge A still running" kill -0 "${PIDS[bridgeA]}"

# ---- a restart with the same key reconnects, punched again ----------------------------------------
FROM_B=".direction == \"inbound\" and .relayed == false and .peer == \"$CLI_ID\" and .loopback == \"$LO_A_FOR_B\""
NA=$(jcount "$PW/bridgeA.log" bridge_session_open "$FROM_B")
T0=$SECONDS
start_b bridgeB2
check "restarted bridge B: direct (punched) connection to A again" \
  jwait "$PW/bridgeB2.log" bridge_peer_direct 25 ".addr | startswith(\"/ip4/$RA_PUB/tcp/\")"
check "restarted bridge B: the same endpoint for A ($EP)" \
  jfirst "$PW/bridgeB2.log" bridge_listen ".peer == \"$SRV_ID\" and .addr == \"$EP\""
check "client after the restart: Ready and 5 pings" run_client c2 20 --pings 5
check "client after the restart: 5 of 5 pings answered" jfirst "$PW/c2.log" kaspa_pings_done '.answered == 5'
check "restart to answered pings within 45 s ($((SECONDS - T0)) s)" test $((SECONDS - T0)) -le 45
check "restarted bridge B: outbound session relayed=false" \
  jfirst "$PW/bridgeB2.log" bridge_session_open '.direction == "outbound" and .relayed == false'
check "bridge A: a new inbound session from B (its peer id, loopback $LO_A_FOR_B), relayed=false" \
  test "$(jcount "$PW/bridgeA.log" bridge_session_open "$FROM_B")" -gt "$NA"
check "the long-lived client reconnected by itself through the restarted bridge B (Ready again)" \
  wait_count "$PW/keep.log" kaspa_ready 2 15

# ---- garbage instead of HTTP/2 costs only its own session ---------------------------------------
punch_bg good b "$HOLEPUNCH" client --kaspa-connect "$EP" --log-format json --ping-interval 1
check "good client Ready and pinging" jwait "$PW/good.log" kaspa_ping 15
NB=$(jcount "$PW/bridgeB2.log" bridge_session_closed)
NK=$(jcount "$PW/kaspad.log" kaspa_session_closed)
T0=$SECONDS
# 4 KiB of random bytes, then wait for the bridge to close the connection (cat sees EOF).
head -c 4096 /dev/urandom >"$PW/garbage.bin"
GARBAGE_SHA=$(sha256sum "$PW/garbage.bin" | cut -d' ' -f1)
"$NATLAB" exec "$PL" b -- timeout 15 bash -c \
  'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" && cat "$2" >&3 && cat <&3 >/dev/null' _ "$EP" "$PW/garbage.bin"
check "garbage connection closed within 10 s ($((SECONDS - T0)) s)" test $((SECONDS - T0)) -le 10
wait_count "$PW/kaspad.log" kaspa_session_closed $((NK + 1)) 5
check "stand-in kaspad ended the garbage session (and only that one)" \
  test "$(jcount "$PW/kaspad.log" kaspa_session_closed)" = $((NK + 1))
check "bridge B: the garbage session (4096 bytes in) closed" \
  jfirst "$PW/bridgeB2.log" bridge_session_closed '.bytes_from_kaspad == 4096'
check "the garbage reached the stand-in kaspad as sent (tee A: its 4096 bytes and sha256)" \
  jfirst "$PW/teeA.log" tee_closed ".up_bytes == 4096 and .up_sha256 == \"$GARBAGE_SHA\""
P1=$(jcount "$PW/good.log" kaspa_ping)
sleep 3
P2=$(jcount "$PW/good.log" kaspa_ping)
check "good session kept pinging after the garbage ($P1 -> $P2 pongs)" test "$P2" -ge $((P1 + 2))
check "good session not closed" test "$(jcount "$PW/good.log" kaspa_session_closed)" = 0
check "bridge B: peer A still connected (no bridge_peer_lost)" \
  test "$(jcount "$PW/bridgeB2.log" bridge_peer_lost)" = 0
check "bridge B: no session closed but the garbage one" \
  test "$(jcount "$PW/bridgeB2.log" bridge_session_closed)" = $((NB + 1))
punch_finish
