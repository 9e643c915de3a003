#!/usr/bin/env bash
# rust-libp2p's relay cuts a circuit once both directions together carried its data limit
# (go's counts each direction). Our dialer, pushing 1 MiB of echo through a 128 KiB
# circuit, must report the cut as the relay's limit, not as the peer closing or resetting
# (issue 11 item 3), on both ends of the relayed connection.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$INTEROP_DIR/rust/lib.sh"
need_holepunch
need_rustpeer

step rkey 20 "$RUSTPEER" id --key "$WORK/relay.key"
rid="$(peer_id_in "$WORK/rkey.out")"
start_bg relay 90 "$RUSTPEER" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --data-limit 131072
raddr="$(wait_for 20 "$WORK/relay.out" 'e.event==="listening"' 'e.addrs[0]')/p2p/$rid"
log "rust relay at $raddr"

step skey 20 "$HOLEPUNCH" keygen --key "$WORK/srv.key"
speer="$(peer_id_in "$WORK/skey.out")"
start_bg srv 90 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$raddr" \
  --key "$WORK/srv.key" --log-format json
wait_for 20 "$WORK/srv.err" 'e.event==="reservation"' >/dev/null
wait_for 10 "$WORK/relay.out" "e.event===\"reservation\" && e.peer===\"$speer\"" >/dev/null
log "ok: the rust relay accepted our reservation"

rc=0
timeout -k 2 60 "$HOLEPUNCH" echo "$raddr/p2p-circuit/p2p/$speer" --streams 1 --bytes 1M \
  --key "$WORK/cli.key" --log-format json --timeout 50000 >"$WORK/echo.out" 2>"$WORK/echo.err" || rc=$?
[ "$rc" -ne 124 ] || fail "echo through the limited circuit hung"
[ "$rc" -ne 0 ] || fail "1 MiB went through a 128 KiB circuit"
all="$(both echo)"
expect "$all" 'e.event==="connected" && e.relayed===true' "our dialer had the relayed connection"
expect "$all" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: data"' \
  "our dialer reports the cut as the relay's data limit"
wait_for 10 "$WORK/srv.err" 'e.event==="disconnected" && e.relayed===true && e.reason==="relay limit reached: data"' >/dev/null
log "ok: our listener reports it the same way"
log "PASS"
