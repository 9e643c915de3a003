#!/usr/bin/env bash
# go-libp2p's relay (v0.52, circuitv2/relay) cuts a circuit at its data limit per direction
# (it stops copying and closes: we see FIN) and at its duration limit (it resets both
# streams: we see RST). Our dialer and our listener must report either as the relay's limit,
# not as the peer closing or resetting (issue 11 item 3). rust's relay, which counts both
# directions together: test_rust_relay_limit.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INTEROP_DIR/go/peer.sh"
need_holepunch
need_gopeer

# run_case NAME RELAY-LIMIT-ARGS... -- CLIENT-ARGS...: a go relay with those limits, our
# listener reserving on it, our client through the circuit; leaves logs in $WORK/NAME_*.
run_case() {
  local name=$1
  shift
  local rargs=() cargs=()
  while [ "$1" != -- ]; do rargs+=("$1"); shift; done
  shift
  cargs=("$@")
  start_bg "${name}_relay" 90 "$GOPEER" relay --listen /ip4/127.0.0.1/tcp/0 \
    --key "$WORK/${name}_relay.key" "${rargs[@]}" --timeout 80
  local raddr rid
  raddr=$(wait_for 20 "$WORK/${name}_relay.out" 'e.event==="listening"' 'e.addr')
  rid=$(jq_first "$WORK/${name}_relay.out" 'e.event==="listening"' 'e.peer')
  raddr="$raddr/p2p/$rid"
  step "${name}_skey" 20 "$HOLEPUNCH" keygen --key "$WORK/${name}_srv.key"
  local speer
  speer="$(peer_id_in "$WORK/${name}_skey.out")"
  start_bg "${name}_srv" 90 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$raddr" \
    --key "$WORK/${name}_srv.key" --log-format json
  wait_for 20 "$WORK/${name}_srv.err" 'e.event==="reservation"' >/dev/null
  wait_for 10 "$WORK/${name}_relay.out" "e.event===\"reservation\" && e.peer===\"$speer\"" >/dev/null
  log "ok ($name): the go relay accepted our reservation"
  local rc=0
  timeout -k 2 60 "$HOLEPUNCH" "${cargs[0]}" "$raddr/p2p-circuit/p2p/$speer" "${cargs[@]:1}" \
    --key "$WORK/${name}_cli.key" --log-format json --timeout 50000 \
    >"$WORK/${name}_cli.out" 2>"$WORK/${name}_cli.err" || rc=$?
  [ "$rc" -ne 124 ] || fail "$name: our client hung on the limited circuit"
  [ "$rc" -ne 0 ] || fail "$name: our client finished although the relay's limit is below its traffic"
}

# go applies a Limit's duration as a stream deadline even when it is 0 (the circuit is reset at
# once), so each case gives the other limit a value far above what it uses.
# Data: 1 MiB of echo through a circuit limited to 128 KiB per direction.
run_case data --data-limit 131072 --duration-limit 600 -- echo --streams 1 --bytes 1M
all="$(both data_cli)"
expect "$all" 'e.event==="connected" && e.relayed===true' "our dialer had the relayed connection"
expect "$all" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: data"' \
  "our dialer reports go's FIN at the data limit as the relay's data limit"
wait_for 10 "$WORK/data_srv.err" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: data"' >/dev/null
log "ok: our listener reports it the same way"

# Duration: pings every 300 ms for 6 s through a circuit limited to 2 s.
run_case duration --data-limit 1073741824 --duration-limit 2 -- ping --count 20 --interval 300
all="$(both duration_cli)"
expect "$all" 'e.event==="ping"' "pings went through the circuit before the cut"
expect "$all" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: duration"' \
  "our dialer reports go's RST at the duration limit as the relay's duration limit"
wait_for 10 "$WORK/duration_srv.err" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: duration"' >/dev/null
log "ok: our listener reports it the same way"
log "PASS"
