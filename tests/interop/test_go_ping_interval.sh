#!/usr/bin/env bash
# `holepunch ping --interval 11000` against go-libp2p: go's ping handler resets a ping stream
# that stays idle for 10 s (p2p/protocol/ping/ping.go pingTimeout), so every ping after the
# first must survive that reset (a new stream; our ping server allows 2 per connection).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INTEROP_DIR/go/peer.sh"
need_holepunch
need_gopeer

start_bg go 120 "$GOPEER" listen --key "$WORK/go.key"
wait_for 20 "$WORK/go.out" 'e.event==="listening"' >/dev/null
GO_MA=$(jq_first "$WORK/go.out" 'e.event==="listening"' 'e.addr+"/p2p/"+e.peer')
step ping 60 "$HOLEPUNCH" ping "$GO_MA" --count 3 --interval 11000 --key "$WORK/us.key" \
  --log-format json
f=$(both ping)
n=$(grep -c '"event":"ping"' "$f" || true)
[ "$n" -eq 3 ] || fail "3 pings 11 s apart answered by go (got $n)"
log "ok: 3 pings 11 s apart answered by go"
log "PASS"
