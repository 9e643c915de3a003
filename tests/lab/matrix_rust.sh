# shellcheck shell=bash
# Matrix plug-ins for the rust-libp2p test peer (build/interop/rust/rustpeer) and for ours,
# in the NAT lab of tests/lab/lib.sh (relay public, listener behind NAT A, dialer behind
# NAT B). Source after lib.sh. Each implementation IMPL provides:
#   mx_start_relay_IMPL      relay in the relay namespace; sets RELAY_MA, waits until it listens
#   mx_start_listener_IMPL   listener behind A with a reservation on RELAY_MA; waits for it
#   mx_run_dialer_IMPL NAME  dialer behind B: dials the circuit address, waits for the
#                            DCUtR upgrade, 64 KiB echo and pings on the direct connection
#   mx_check_dialer_IMPL NAME / mx_check_listener_IMPL : the per-cell assertions (`check`)
# Addresses stay the lab's (lab/README.md): rust-libp2p is told its public lab address with
# --external (no AutoNAT here; see tests/interop/rust/src/node.rs).
RUSTPEER=${RUSTPEER:-$SRC_DIR/build/interop/rust/rustpeer}

mx_start_relay_ours() {
  punch_start_relay --announce "/ip4/$RELAY_IP/tcp/$SRV_PORT"
}

# ours0: our relay as operators start it, on 0.0.0.0 without --announce; rust's relay client
# rejects a reservation without addresses (NoAddressesInReservation, issue 11 item 3).
mx_start_relay_ours0() {
  punch_start_relay
}

mx_start_relay_rust() {
  punch_bg relay relay "$RUSTPEER" relay --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" \
    --announce "/ip4/$RELAY_IP/tcp/$SRV_PORT" --key "$PW/relay.key" --data-limit 1073741824
  RELAY_MA=/ip4/$RELAY_IP/tcp/$SRV_PORT/p2p/$RELAY_ID
  jwait "$PW/relay.log" listening 10
}

mx_start_relay_js() {
  punch_start_js_relay
}

mx_start_listener_ours() {
  punch_start_server
}

mx_start_listener_rust() {
  punch_bg srv a "$RUSTPEER" listen --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" \
    --key "$PW/srv.key" --external "/ip4/$RA_PUB/tcp/$SRV_PORT" --timeout 120
  jwait "$PW/srv.log" reserved 20
}

# Ours as the dialer: `echo` (one 4 KiB stream + 64 KiB) and `ping` (3), each waiting for the
# punched connection first (--wait-direct), so neither crosses the relay.
mx_run_dialer_ours() {
  local name=$1
  punch_client "$name" 60 echo --streams 1 --bytes 64K --wait-direct 25000 --timeout 55000
  punch_client "$name.ping" 60 ping --count 3 --wait-direct 25000 --timeout 55000
}

mx_run_dialer_rust() {
  local name=$1
  timeout -k 2 70 "$NATLAB" exec "$PL" b -- "$RUSTPEER" dial "$(circuit_addr)" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --key "$PW/cli.key" \
    --external "/ip4/$RB_PUB/tcp/$CLI_PORT" --wait-direct 25 --echo-bytes 65536 --streams 1 \
    --pings 3 --timeout 60 >"$PW/$name.log" 2>&1
}

mx_check_dialer_ours() {
  local log=$PW/$1.log
  check "ours (A): relayed connection first" jfirst "$log" connected '.relayed == true'
  check "ours (A): direct_connected to router A, Noise initiator (attempt $(jfirst "$log" direct_connected true attempt), relayed → direct $(jfirst "$log" direct_connected true ms_since_relayed) ms)" \
    jfirst "$log" direct_connected ".role == \"initiator\" and (.addr | startswith(\"/ip4/$RA_PUB/\"))"
  check "ours (A): 64 KiB echo on the direct connection, byte for byte" \
    jfirst "$log" echo_result '.ok == true'
  check "ours (A): 3 pings over the direct connection" \
    test "$(jcount "$PW/$1.ping.log" ping)" -ge 3
  check "ours (A): the ping run punched too" jfirst "$PW/$1.ping.log" direct_connected '.role == "initiator"'
}

mx_check_dialer_rust() {
  local log=$PW/$1.log
  check "rust (A): result ok (relayed → direct $(jfirst "$log" result true direct_ms) ms, attempt $(jfirst "$log" result true attempt))" \
    jfirst "$log" result '.ok == true and .relayed_ms != null and .echo_ok == true'
  check "rust (A): Noise initiator and Yamux client on the punched connection" \
    jfirst "$log" result '.role == "A" and .noise_initiator == true and .yamux_client == true'
  check "rust (A): the direct connection goes to router A" \
    jfirst "$log" result ".remote | startswith(\"/ip4/$RA_PUB/\")"
  check "rust (A): 3 pings over the direct connection" jfirst "$log" result '(.ping_ms | length) == 3'
}

mx_check_listener_ours() {
  check "ours (B): direct_connected to the dialer as Noise responder" \
    jwait "$PW/srv.log" direct_connected 10 ".role == \"responder\" and .peer == \"$CLI_ID\""
}

mx_check_listener_rust() {
  check "rust (B): reservation holds a circuit address" jfirst "$PW/srv.log" reserved '.addr | contains("/p2p-circuit")'
  check "rust (B): direct event, Noise responder and Yamux server, from router B" \
    jwait "$PW/srv.log" direct 10 ".role == \"B\" and .noise_initiator == false and .yamux_client == false and .peer == \"$CLI_ID\" and (.remote | startswith(\"/ip4/$RB_PUB/\"))"
}

# mx_step WHAT CMD...: `check`, and its outcome as the return status.
mx_step() {
  local before=$FAILS
  check "$@"
  ((FAILS == before))
}

# mx_cell RELAY LISTENER DIALER: one matrix cell in a fresh lab (port-restricted NATs on
# both sides, as the issue asks), everything it started stopped afterwards.
mx_cell() {
  local relay=$1 lis=$2 dial=$3 name="cell_$1_$2_$3"
  plog "=== cell relay=$relay listener=$lis dialer=$dial"
  mx_step "[$name] natlab up (restricted/restricted)" punch_lab_up --nat-a restricted --nat-b restricted || return
  if mx_step "[$name] $relay relay listening" "mx_start_relay_$relay" &&
    mx_step "[$name] $lis listener reserved on the $relay relay" "mx_start_listener_$lis"; then
    "mx_run_dialer_$dial" "$name"
    "mx_check_dialer_$dial" "$name"
    "mx_check_listener_$lis"
  fi
  for f in "$PW"/*.log; do mv "$f" "$PW/$name.${f##*/}.done" 2>/dev/null; done
  punch_lab_down
}
