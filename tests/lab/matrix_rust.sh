# shellcheck shell=bash
# The rust-libp2p plug-ins (build/interop/rust/rustpeer) of the matrix harness
# tests/lab/matrix_lib.sh, which sources this file; interface described there.
# rust-libp2p is told its public lab address with --external (no AutoNAT here; why and when
# it confirms it: tests/interop/rust/src/node.rs). The lab's addresses stay as they are.
RUSTPEER=${RUSTPEER:-$SRC_DIR/build/interop/rust/rustpeer}

# need_rustpeer_lab: SKIP (exit 0) without cargo, FAIL under CI=true or when cargo is there
# but the peer was not built.
need_rustpeer_lab() {
  [[ -x $RUSTPEER ]] && return 0
  if command -v cargo >/dev/null || [[ -x $HOME/.cargo/bin/cargo ]]; then
    echo "FAIL: $RUSTPEER missing although cargo is installed (tests/interop/rust-build.sh)"
    exit 1
  fi
  [[ ${CI:-} == true ]] && { echo "FAIL: cargo not found and CI=true"; exit 1; }
  echo "SKIP: cargo not found; the rust peer is not built"
  exit 0
}

mx_start_relay_rust() {
  punch_bg relay relay "$RUSTPEER" relay --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" \
    --announce "/ip4/$RELAY_IP/tcp/$SRV_PORT" --key "$PW/relay.key" --data-limit 1073741824 \
    --timeout 300
  RELAY_MA=/ip4/$RELAY_IP/tcp/$SRV_PORT/p2p/$RELAY_ID
  MX_RELAY_EV=reservation
  jwait "$PW/relay.log" listening 10
}

mx_start_listener_rust() {
  punch_bg srv a "$RUSTPEER" listen --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" \
    --key "$PW/srv.key" --external "/ip4/$RA_PUB/tcp/$SRV_PORT" --timeout 300
  MX_L_LOG=$PW/srv.log
  jwait "$MX_L_LOG" reserved 20
}

# The listener's contract `direct` event (attempt, role B, noise_initiator from the
# endpoint), read as for the go peer.
mx_listener_facts_rust() { mx_listener_facts_go; }

mx_run_dialer_rust() {
  MX_D_ERR=
  timeout -k 2 50 "$NATLAB" exec "$PL" b -- "$RUSTPEER" dial "$(circuit_addr)" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --external "/ip4/$RB_PUB/tcp/$CLI_PORT" \
    --key "$PW/cli.key" --wait-direct 25 --echo-bytes 65536 --streams 1 --pings 3 --timeout 45 \
    >"$PW/mx_rust_dial.log" 2>&1 || MX_D_ERR="rust dial exited non-zero"
  mx_peer_result "$PW/mx_rust_dial.log" rust
}
