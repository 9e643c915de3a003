#!/usr/bin/env bash
# holepunch dials rust-libp2p on loopback: identify both ways, `ping` (3 RTTs), `echo`
# (64 concurrent streams + 16 MiB through one) and `perf` (16 MiB each way) against a rust
# listener; a dial with the wrong peer ID must fail.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$INTEROP_DIR/rust/lib.sh"
need_holepunch
need_rustpeer

step hp_keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/hp_keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"

start_bg rust 90 "$RUSTPEER" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/rust.key"
rpeer="$(wait_for 20 "$WORK/rust.out" 'e.event==="listening"' 'e.peer')"
laddr="$(wait_for 5 "$WORK/rust.out" 'e.event==="listening"' 'e.addrs[0]')"
addr="$laddr/p2p/$rpeer"
log "rust listening at $addr"

step ping 30 "$HOLEPUNCH" ping "$addr" --count 3 --key "$WORK/hp.key" --log-format json
all="$(both ping)"
expect "$all" "e.event===\"identify\" && e.peer===\"$rpeer\" && String(e.agent).startsWith('rustpeer/') &&
  ['/ipfs/id/1.0.0','/ipfs/ping/1.0.0','/echo/1.0.0','/perf/1.0.0'].every(p => e.protocols.includes(p)) &&
  /^\/ip4\/127\.0\.0\.1\/tcp\/[0-9]+/.test(e.observed)" \
  "holepunch identified rust (agent, protocols, observed address)"
n="$(grep -c '"event" *: *"ping"' "$all" || true)"
[ "$n" -ge 3 ] || fail "expected 3 ping events, got $n"
expect "$all" "e.event===\"ping\" && e.peer===\"$rpeer\" && typeof e.rtt_ms === 'number' && e.rtt_ms >= 0 && e.rtt_ms < 5000" "pings with RTTs"
wait_for 10 "$WORK/rust.out" "e.event===\"identify\" && e.peer===\"$hpeer\" && !String(e.agent).startsWith('rustpeer/') &&
  e.protocols.includes('/ipfs/id/1.0.0') && String(e.observed).startsWith('$laddr')" >/dev/null
log "ok: rust identified holepunch (observed = the address we dialed)"

step echo 60 "$HOLEPUNCH" echo "$addr" --streams 64 --bytes 16777216 --key "$WORK/hp.key" --log-format json
expect "$(both echo)" 'e.event==="echo_result" && e.ok===true' "64 echo streams and 16 MiB against rust"

step perf 60 "$HOLEPUNCH" perf "$addr" --upload 16777216 --download 16777216 --key "$WORK/hp.key" --log-format json
expect "$(both perf)" 'e.event==="perf" && e.upload_bytes===16777216 && e.download_bytes===16777216 &&
  e.upload_mbps > 0 && e.download_mbps > 0' "perf 16 MiB each way against rust"

step other 20 "$RUSTPEER" id --key "$WORK/other.key"
other="$(peer_id_in "$WORK/other.out")"
rc=0
timeout -k 2 30 "$HOLEPUNCH" ping "$laddr/p2p/$other" --count 1 --key "$WORK/hp.key" --log-format json \
  >"$WORK/wrongpeer.out" 2>"$WORK/wrongpeer.err" || rc=$?
[ "$rc" -ne 124 ] || fail "ping with the wrong peer ID hung"
[ "$rc" -ne 0 ] || fail "ping with the wrong peer ID succeeded"
log "ok: dial with the wrong peer ID fails (rc=$rc)"
log "PASS"
