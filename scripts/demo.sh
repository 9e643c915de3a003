#!/usr/bin/env bash
# The mission, end to end: two Kaspa nodes that are each behind a NAT talk directly.
#
#   relay    198.51.100.10  `holepunch relay` (Circuit Relay v2, public)
#   server   198.18.1.2 behind router A (198.51.100.2, NAT)   `holepunch server --relay …`
#   client   198.18.2.2 behind router B (198.51.100.3, NAT)   `holepunch client` via the relay
#
# The server reserves a slot on the relay; the client reaches it through the relay; DCUtR
# hole-punches both NATs; the Kaspa handshake (Version/Verack/Ready) and pings run on the
# direct connection; the relayed connection is closed and the relay carries nothing more.
# Prints a timeline and a summary (explained in docs/demo.md); exits non-zero if any step
# fails; tears everything down (namespaces, processes) in every case.
#
#   bash scripts/demo.sh [BUILD_DIR]      (`make demo` runs it with build/release)
# Environment: DEMO_NAT=restricted (eim|restricted), DEMO_DELAY=25 (ms per router and direction, so +100 ms RTT
#   between the private hosts; 0 if /dev/net/tun is missing),
#   DEMO_PINGS=5, DEMO_LOOPBACK=1 forces the loopback fallback, PUNCH_KEEP=1 keeps the logs.
# Needs root for the NAT lab (network namespaces + nftables); without it, the same
# scenario runs on loopback with no NATs (and says so).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$ROOT/$build ;; esac
export SRC_DIR=$ROOT BUILD_DIR=$build HOLEPUNCH=$build/holepunch
NAT=${DEMO_NAT:-restricted}
DELAY=${DEMO_DELAY:-25}
PINGS=${DEMO_PINGS:-5}

PUNCH_LOOPBACK=0
if [[ ${DEMO_LOOPBACK:-0} == 1 || $EUID -ne 0 ]] || ! unshare --net true 2>/dev/null ||
  ! command -v nft >/dev/null; then
  PUNCH_LOOPBACK=1
fi
export PUNCH_LOOPBACK
# shellcheck source=../tests/lab/lib.sh
source "$ROOT/tests/lab/lib.sh"
PNAME=demo
PUNCH_DUMP_LOGS=0 # the timeline says what happened; PUNCH_KEEP=1 keeps the raw logs
punch_need_holepunch

say() { printf '%s\n' "$*"; }
die() {
  say ""
  say "DEMO FAILED: $*${PUNCH_KEEP:+ (JSON logs kept in $PW)}"
  exit 1
}

KASPA=0
if "$HOLEPUNCH" client --help 2>&1 | grep -q -- '--pings' &&
  "$HOLEPUNCH" server --help 2>&1 | grep -q -- '--relay'; then
  KASPA=1
fi

say "== kaspa-holepunch demo =="
if ((PUNCH_LOOPBACK)); then
  say "mode: LOOPBACK FALLBACK (no root / no network namespaces): relay, server and client all"
  say "      on 127.0.0.1, no NAT in between. The punch is real DCUtR but proves nothing about NATs;"
  say "      run as root for the NAT lab."
else
  say "mode: NAT lab (lab/natlab): two private networks behind '$NAT' NATs, +${DELAY} ms per router and direction"
fi
((KASPA)) || say "note: \`holepunch server/client\` (Kaspa) not available in this build: using listen/ping instead"
say ""

# ---- set up ---------------------------------------------------------------------------------
punch_keys || die "keygen failed"
if ((PUNCH_LOOPBACK)); then
  RELAY_IP=127.0.0.1
  METRICS_ARG=127.0.0.1:0
else
  [[ -c /dev/net/tun ]] || DELAY=0
  up=(--nat-a "$NAT" --nat-b "$NAT")
  ((DELAY > 0)) && up+=(--delay-a "$DELAY" --delay-b "$DELAY")
  punch_lab_up "${up[@]}" || die "natlab up ${up[*]} failed"
  METRICS_ARG=$METRICS
fi

relay_port=$SRV_PORT
((PUNCH_LOOPBACK)) && relay_port=0
punch_bg relay relay "$HOLEPUNCH" relay --listen "/ip4/$RELAY_IP/tcp/$relay_port" \
  --key "$PW/relay.key" --log-format json --metrics-listen "$METRICS_ARG"
jwait "$PW/relay.log" listening 10 || die "the relay did not start"
jwait "$PW/relay.log" metrics_listening 5 || die "the relay's metrics did not start"
RELAY_MA=$(jfirst "$PW/relay.log" listening true addr)
METRICS=$RELAY_IP:$(jfirst "$PW/relay.log" metrics_listening true port)

listen_ip=0.0.0.0
srv_port=$SRV_PORT cli_port=$CLI_PORT
if ((PUNCH_LOOPBACK)); then listen_ip=127.0.0.1 srv_port=0 cli_port=0; fi
if ((KASPA)); then
  punch_bg srv a "$HOLEPUNCH" server --listen "/ip4/$listen_ip/tcp/$srv_port" --relay "$RELAY_MA" \
    --key "$PW/srv.key" --log-format json
else
  punch_bg srv a "$HOLEPUNCH" listen --listen "/ip4/$listen_ip/tcp/$srv_port" --relay "$RELAY_MA" \
    --key "$PW/srv.key" --log-format json
fi
jwait "$PW/srv.log" reservation 15 || die "the server got no reservation on the relay"

CIRCUIT=$RELAY_MA/p2p-circuit/p2p/$SRV_ID
B0=$(relay_bytes)
T0=$(date +%s%3N)
if ((KASPA)); then
  # Long-lived session pinging every second; stopped once PINGS pings were answered.
  punch_bg cli b "$HOLEPUNCH" client --remote "$CIRCUIT" --listen "/ip4/$listen_ip/tcp/$cli_port" \
    --key "$PW/cli.key" --log-format json --ping-interval 1
  PING_EV=kaspa_ping
else
  punch_bg cli b "$HOLEPUNCH" ping "$CIRCUIT" --listen "/ip4/$listen_ip/tcp/$cli_port" \
    --key "$PW/cli.key" --log-format json --count "$PINGS" --interval 1000 --wait-direct 10000
  PING_EV=ping
fi
jwait "$PW/cli.log" direct_connected 20 || DIRECT_FAIL=1
B1=$(relay_bytes)
# Enough pings, and the relayed connection gone (3 s grace after the punch).
end=$((SECONDS + PINGS + 15))
while ((SECONDS < end)); do
  n=$(jcount "$PW/cli.log" "$PING_EV")
  closed=$(($(jcount "$PW/cli.log" relayed_closed) + $(jcount "$PW/srv.log" relayed_closed) +
    $(jcount "$PW/cli.log" disconnected '.relayed == true')))
  ((n >= PINGS && closed > 0)) && break
  kill -0 "${PIDS[cli]}" 2>/dev/null || break
  sleep 0.2
done
sleep 0.5
B2=$(relay_bytes)
punch_stop cli
sleep 0.3
T_END=$(date +%s%3N)

# ---- timeline -------------------------------------------------------------------------------
say "-- timeline (ms after the client started; [R]elay [S]erver [C]lient) --"
for who in relay srv cli; do
  tag=R
  [[ $who == srv ]] && tag=S
  [[ $who == cli ]] && tag=C
  grep '^{' "$PW/$who.log" | jq -cR --arg tag "$tag" 'fromjson? | . + {who: $tag}'
done | jq -sr --argjson t0 "$T0" --arg relay_id "$RELAY_ID" --arg srv "$SRV_ID" --arg cli "$CLI_ID" '
  def short: if type == "string" then (if length > 16 then .[0:8] + "…" + .[-4:] else . end) else "?" end;
  def nm: if . == $relay_id then "relay" elif . == $srv then "server" elif . == $cli then "client" else (. | short) end;
  sort_by(.ts) | .[] |
  ( if .event == "listening" and .who == "R" then "relay listening on \(.addr | sub("/p2p/.*"; ""))"
    elif .event == "observed_addr" and .who != "R" then "\(if .who == "S" then "server" else "client" end): the relay sees me as \(.addr)  (my NAT mapping)"
    elif .event == "reservation" then "server holds a reservation on the relay (reachable via /p2p-circuit)"
    elif .event == "relay_reserved" then "relay: reservation granted to server"
    elif .event == "circuit_open" then "relay: circuit client → server opened"
    elif .event == "connected" and .relayed == true then "\(if .who == "S" then "server" else "client" end): RELAYED connection to \(.peer | nm) is up"
    elif .event == "dcutr_attempt" then "\(if .who == "S" then "server" else "client" end): DCUtR attempt \(.attempt) as \(.role) (relayed RTT \(.rtt_ms) ms) → simultaneous TCP open"
    elif .event == "dcutr_failed" then "\(if .who == "S" then "server" else "client" end): DCUtR attempt \(.attempt) failed: \(.reason)"
    elif .event == "holepunch_gave_up" then "\(if .who == "S" then "server" else "client" end): gave up punching: \(.reason)"
    elif .event == "direct_connected" then "\(if .who == "S" then "server" else "client" end): DIRECT connection to \(.peer | nm), remote \(.addr) (\(.ms_since_relayed) ms after the relayed one)"
    elif .event == "kaspa_stream_open" then "\(if .who == "S" then "server" else "client" end): Kaspa stream \(.protocol) opened, relayed=\(.relayed)"
    elif .event == "kaspa_handshake" then "\(if .who == "S" then "server" else "client" end): Version received (v\(.version), \(.network), \(.user_agent)) and Verack, relayed=\(.relayed)"
    elif .event == "kaspa_ready" then "\(if .who == "S" then "server" else "client" end): Ready (handshake \(.ms_since_start) ms)"
    elif .event == "kaspa_ping" and .who == "C" then "client: Kaspa ping → pong \(.rtt_ms) ms"
    elif .event == "ping" and .who == "C" then "client: libp2p ping \(.rtt_ms) ms"
    elif .event == "relayed_closed" then "\(if .who == "S" then "server" else "client" end): relayed connection closed (\(.reason))"
    elif .event == "circuit_closed" then "relay: circuit closed (\(.bytes_src_to_dst) B client→server, \(.bytes_dst_to_src) B server→client relayed in total)"
    elif .event == "kaspa_session_closed" and .who == "C" then "client: Kaspa session closed (\(.bytes_in) B in, \(.bytes_out) B out, \(.messages_in)/\(.messages_out) messages, relayed=\(.relayed))"
    else empty end ) as $line |
  "\((.ts - $t0) | tostring | (" " * (7 - length)) + .) [\(.who)] \($line)"'

# ---- summary and verdict --------------------------------------------------------------------
say ""
say "-- summary --"
FAILS=0
verdict() {
  if eval "$2"; then say "  ok   $1"; else
    say "  FAIL $1"
    FAILS=$((FAILS + 1))
  fi
}
srv_pub=$(jfirst "$PW/srv.log" observed_addr true addr)
cli_pub=$(jfirst "$PW/cli.log" observed_addr true addr)
cli_direct=$(jfirst "$PW/cli.log" direct_connected true addr)
srv_direct=$(jfirst "$PW/srv.log" direct_connected true addr)
say "  server: private $(((PUNCH_LOOPBACK)) && echo 127.0.0.1 || echo 198.18.1.2), public (seen by the relay) ${srv_pub:-?}"
say "  client: private $(((PUNCH_LOOPBACK)) && echo 127.0.0.1 || echo 198.18.2.2), public (seen by the relay) ${cli_pub:-?}"
say "  direct connection: client → ${cli_direct:-none}, server ← ${srv_direct:-none}"
say "  relayed → direct: $(jfirst "$PW/cli.log" direct_connected true ms_since_relayed) ms" \
  "(relayed RTT $(jfirst "$PW/srv.log" dcutr_attempt true rtt_ms) ms)"
if [[ -n $B0 && -n $B1 && -n $B2 ]]; then
  say "  bytes through the relay: $((B1 - B0)) before the punch, $((B2 - B1)) after it"
fi
if ((KASPA)); then
  kin=$(jfirst "$PW/cli.log" kaspa_session_closed '.relayed == false' bytes_in)
  kout=$(jfirst "$PW/cli.log" kaspa_session_closed '.relayed == false' bytes_out)
  say "  Kaspa bytes over the direct connection: ${kin:-?} in, ${kout:-?} out" \
    "($(jcount "$PW/cli.log" kaspa_ping) pings; libp2p framing not counted)"
fi
verdict "DCUtR punched: direct_connected on both sides" \
  '[[ -n $cli_direct && -n $srv_direct ]]'
if ((!PUNCH_LOOPBACK)); then
  verdict "the direct connection joins the two routers' public addresses" \
    '[[ $cli_direct == /ip4/$RA_PUB/* && $srv_direct == /ip4/$RB_PUB/* ]]'
fi
if ((KASPA)); then
  verdict "Kaspa Version/Verack/Ready on the direct connection (both sides)" \
    '[[ -n $(jfirst "$PW/cli.log" kaspa_handshake ".relayed == false") && -n $(jfirst "$PW/srv.log" kaspa_handshake ".relayed == false") && -n $(jfirst "$PW/cli.log" kaspa_ready) ]]'
  verdict "no Kaspa stream over the relay" \
    '[[ $(jcount "$PW/cli.log" kaspa_stream_open ".relayed == true") == 0 ]]'
fi
verdict "$PINGS pings answered" '(($(jcount "$PW/cli.log" "$PING_EV") >= PINGS))'
verdict "the relayed connection was closed after the punch" \
  '(($(jcount "$PW/cli.log" relayed_closed) + $(jcount "$PW/srv.log" relayed_closed) + $(jcount "$PW/cli.log" disconnected ".relayed == true" ) > 0))'
if [[ -n $B1 && -n $B2 ]]; then
  verdict "the relay carried < 4 KiB after the punch (pings went direct)" '((B2 - B1 < 4096))'
fi
say ""
if ((FAILS)); then
  if [[ ${PUNCH_KEEP:-0} == 1 ]]; then
    say "DEMO FAILED ($FAILS check(s)); JSON logs kept in $PW"
  else
    say "DEMO FAILED ($FAILS check(s)); rerun with PUNCH_KEEP=1 to keep the JSON logs"
  fi
  exit 1
fi
say "DEMO OK: the two NATed nodes talk directly; the relay only introduced them."
exit 0
