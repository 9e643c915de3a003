# shellcheck shell=bash
# The interop matrix of issue 11: one cell = a Circuit Relay v2 relay (public), a listener
# behind port-restricted NAT A holding a reservation, a dialer behind port-restricted NAT B
# dialing the listener's /p2p-circuit address; DCUtR must punch and the dialer (spec A) must
# be Noise initiator and Yamux client on the punched connection, the listener (B) the other.
#
# Source after tests/lab/lib.sh. Implementations are plug-ins, one function each:
#   mx_start_relay_<impl>     starts the relay in namespace relay; sets RELAY_MA, RELAY_ID;
#                             MX_RELAY_RESERVED PEER checks the relay granted PEER a slot
#   mx_start_listener_<impl>  starts the listener behind A with a reservation on RELAY_MA;
#                             sets MX_L_LOG; mx_listener_facts_<impl> prints
#                             "attempt role noise_initiator yamux_client" of its punched
#                             connection
#   mx_run_dialer_<impl>      dials $(circuit_addr) behind B in the foreground; leaves
#                             MX_D_RELAYED MX_D_ROLE MX_D_NOISE MX_D_YAMUX MX_D_ATTEMPT MX_D_MS
#                             MX_D_ECHO MX_D_PING (true|false|value) or MX_D_ERR
# impl ∈ ours | go | js (relay only) here; tests/lab/matrix_rust.sh adds rust when present.
#   mx_cell RELAY LISTENER DIALER   one cell, prints one CELL line, counts it in MX_PASS/MX_FAIL
#   mx_summary                      prints the summary and exits 0 iff every cell passed
# Each cell brings its own lab up and down (fresh conntrack, fresh ports).
MX_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../interop/go/peer.sh
source "$MX_DIR/../interop/go/peer.sh"
MX_PASS=0
MX_FAIL=0
MX_LINES=()
MX_NAT=${MX_NAT:-restricted}
MX_LAB_ARGS=${MX_LAB_ARGS:-}

# ---- ours ------------------------------------------------------------------------------
mx_start_relay_ours() {
  punch_start_relay || return 1
  MX_RELAY_EV=reservation_granted
}
mx_start_listener_ours() {
  punch_start_server || return 1
  MX_L_LOG=$PW/srv.log
}
# Our B logs direct_connected {attempt, role: initiator|responder (its Noise/Yamux role)}.
mx_listener_facts_ours() {
  jwait "$MX_L_LOG" direct_connected 10 || return 1
  local r
  r=$(jfirst "$MX_L_LOG" direct_connected true role)
  r=$([[ $r == initiator ]] && echo true || echo false)
  # our Yamux role follows the Noise role (src/host/holepunch.c)
  echo "$(jfirst "$MX_L_LOG" direct_connected true attempt) B $r $r"
}
# Our dialer: `echo` of 64 KiB on the punched connection (--wait-direct), then `ping` on a
# second run (its own relayed connection and punch: our commands do one job each).
mx_run_dialer_ours() {
  MX_D_ERR=
  punch_client mx_echo 45 echo --streams 1 --bytes 64K --wait-direct 25000 --timeout 40000 ||
    MX_D_ERR="echo exited non-zero"
  local l=$PW/mx_echo.log r
  MX_D_RELAYED=$(jfirst "$l" connected '.relayed == true' >/dev/null && echo true || echo false)
  MX_D_ECHO=$(jfirst "$l" echo_result '.ok == true and .relayed == false' >/dev/null &&
    echo true || echo false)
  r=$(jfirst "$l" direct_connected true role)
  MX_D_ROLE=A # our dialer dialled through the relay: spec A by construction
  MX_D_NOISE=$([[ $r == initiator ]] && echo true || echo false)
  MX_D_YAMUX=$MX_D_NOISE # our Yamux role follows the Noise role (src/host/holepunch.c)
  MX_D_ATTEMPT=$(jfirst "$l" direct_connected true attempt)
  MX_D_MS=$(jfirst "$l" direct_connected true ms_since_relayed)
  sleep 1
  punch_client mx_ping 45 ping --count 3 --interval 200 --wait-direct 25000 --timeout 40000 ||
    MX_D_ERR="${MX_D_ERR:+$MX_D_ERR; }ping exited non-zero"
  # every ping on the punched connection (each ping line says which connection carried it)
  MX_D_PING=$([[ $(jcount "$PW/mx_ping.log" ping '.relayed == false') -ge 3 ]] &&
    jfirst "$PW/mx_ping.log" direct_connected >/dev/null && echo true || echo false)
}

# ---- go (tests/interop/go, go-libp2p) ---------------------------------------------------
mx_start_relay_go() {
  punch_bg relay relay "$GOPEER" relay --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" \
    --announce "/ip4/$RELAY_IP/tcp/$SRV_PORT" --key "$PW/relay.key" --timeout 300
  RELAY_MA=/ip4/$RELAY_IP/tcp/$SRV_PORT/p2p/$RELAY_ID
  MX_RELAY_EV=reservation
  jwait "$PW/relay.log" listening 20
}
# --external: the router's public address (port kept by the NAT), see punch.go.
mx_start_listener_go() {
  punch_bg srv a "$GOPEER" listen --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" \
    --external "/ip4/$RA_PUB/tcp/$SRV_PORT" --key "$PW/srv.key" --timeout 300
  MX_L_LOG=$PW/srv.log
  jwait "$MX_L_LOG" reserved 20
}
mx_listener_facts_go() {
  jwait "$MX_L_LOG" direct 10 || return 1
  echo "$(jfirst "$MX_L_LOG" direct true attempt) $(jfirst "$MX_L_LOG" direct true role)" \
    "$(jfirst "$MX_L_LOG" direct true noise_initiator) $(jfirst "$MX_L_LOG" direct true yamux_client)"
}
mx_run_dialer_go() {
  MX_D_ERR=
  timeout -k 2 50 "$NATLAB" exec "$PL" b -- "$GOPEER" dial "$(circuit_addr)" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --external "/ip4/$RB_PUB/tcp/$CLI_PORT" \
    --key "$PW/cli.key" --wait-direct 25 --echo-bytes 65536 --pings 3 --timeout 45 \
    >"$PW/mx_go_dial.log" 2>&1 || MX_D_ERR="go dial exited non-zero"
  mx_peer_result "$PW/mx_go_dial.log" go
}

# mx_peer_result LOG WHO: the MX_D_* of a test peer's contract `result` line (go, rust).
mx_peer_result() {
  local r
  r=$(jfirst "$1" result) || {
    MX_D_ERR="$2 dial printed no result"
    return
  }
  [[ -z $MX_D_ERR ]] || MX_D_ERR="$MX_D_ERR: $(jq -r '.error // ""' <<<"$r")"
  MX_D_RELAYED=$(jq -r '.relayed' <<<"$r")
  MX_D_ROLE=$(jq -r '.role' <<<"$r")
  MX_D_NOISE=$(jq -r '.noise_initiator' <<<"$r")
  MX_D_YAMUX=$(jq -r '.yamux_client' <<<"$r")
  MX_D_ATTEMPT=$(jq -r '.attempt' <<<"$r")
  MX_D_MS=$(jq -r '.direct_ms' <<<"$r")
  MX_D_ECHO=$(jq -r '.echo_ok' <<<"$r")
  MX_D_PING=$(jq -r '(.ping_ms | length) >= 3 and .ok' <<<"$r")
}

# ---- js (relay only: js-libp2p cannot punch with lab addresses, tests/interop/README.md) --
mx_start_relay_js() {
  punch_start_js_relay || return 1
  MX_RELAY_EV=reservation
}

# shellcheck source=/dev/null
[[ -f $MX_DIR/matrix_rust.sh ]] && source "$MX_DIR/matrix_rust.sh"

mx_need() {
  local impl
  for impl in "$@"; do
    case $impl in
    go) need_gopeer ;;
    esac
  done
}

# mx_cell RELAY LISTENER DIALER
mx_cell() {
  local R=$1 L=$2 D=$3 why=() facts la lrole lnoise lyamux
  local cell="relay=$R listener=$L dialer=$D"
  plog "== cell $cell"
  PL=mx$$$((MX_PASS + MX_FAIL))
  # Fresh keys per cell (a relay keeps reservations of earlier cells' peers otherwise).
  rm -f "$PW"/{relay,srv,cli}.key "$PW"/{relay,srv,cli}.id
  # shellcheck disable=SC2086 # MX_LAB_ARGS: extra natlab flags (bench/vs_go.sh: delay)
  if ! punch_lab_up --nat-a "$MX_NAT" --nat-b "$MX_NAT" ${MX_LAB_ARGS:-}; then
    why+=("natlab up failed")
  elif ! "mx_start_relay_$R"; then
    why+=("relay did not start")
  elif ! "mx_start_listener_$L"; then
    why+=("listener got no reservation")
  else
    jwait "$PW/relay.log" "$MX_RELAY_EV" 5 ".peer == \"$SRV_ID\"" ||
      why+=("relay logged no reservation for the listener")
    "mx_run_dialer_$D"
    [[ -z ${MX_D_ERR:-} ]] || why+=("$MX_D_ERR")
    [[ $MX_D_RELAYED == true ]] || why+=("no relayed connection first")
    [[ $MX_D_ROLE == A ]] || why+=("dialer role $MX_D_ROLE, want A")
    [[ $MX_D_NOISE == true ]] || why+=("dialer not Noise initiator")
    [[ $MX_D_YAMUX == true ]] || why+=("dialer not Yamux client")
    [[ $MX_D_ECHO == true ]] || why+=("64 KiB direct echo failed")
    [[ $MX_D_PING == true ]] || why+=("ping over the direct connection failed")
    if facts=$("mx_listener_facts_$L"); then
      read -r la lrole lnoise lyamux <<<"$facts"
      [[ $lrole == B ]] || why+=("listener role $lrole, want B")
      [[ $lnoise == false ]] || why+=("listener is Noise initiator too")
      [[ $lyamux == false ]] || why+=("listener is Yamux client too")
      [[ $la =~ ^[1-9][0-9]*$ ]] || why+=("listener reported no attempt number ($la)")
      [[ $la == "$MX_D_ATTEMPT" || $MX_D_ATTEMPT == null ]] ||
        why+=("attempt: listener $la, dialer $MX_D_ATTEMPT")
    else
      why+=("listener logged no punched connection")
      la=null
    fi
  fi
  local line
  if ((${#why[@]} == 0)); then
    line="CELL $cell pass attempt=$la relayed_to_direct_ms=${MX_D_MS%.*}"
    MX_PASS=$((MX_PASS + 1))
  else
    local IFS=';'
    line="CELL $cell FAIL ${why[*]}"
    MX_FAIL=$((MX_FAIL + 1))
    FAILS=$((FAILS + 1))
    local f
    for f in "$PW"/*.log; do
      echo "----- $(basename "$f") (last 15 lines) -----" >&2
      tail -n 15 "$f" >&2
    done
  fi
  echo "$line"
  MX_LINES+=("$line")
  punch_lab_down
  rm -f "$PW"/*.log
}

mx_summary() {
  echo "# matrix: $MX_PASS passed, $MX_FAIL failed"
  local l
  for l in "${MX_LINES[@]}"; do echo "#   $l"; done
  ((MX_FAIL == 0))
}
