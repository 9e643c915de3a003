#!/usr/bin/env bash
# Direct TCP against go-libp2p v0.52 (tests/interop/go): we dial go and go dials us, with go's
# default security proposal (TLS first, then Noise: our multistream must answer `na` to
# /tls/1.0.0 and settle on /noise) and with Noise only. Identify both ways, including a go
# identify big enough (--pad-protocols) that go sends the signed peer record in a second
# message (60 protocols of ~50 bytes: > 2 KiB, identify/id.go legacyIDSize); 64 echo streams; 16 MiB echo; 16 MiB /perf/1.0.0 both directions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INTEROP_DIR/go/peer.sh"
need_holepunch
need_gopeer

for sec in default noise; do
  log "== go security proposal: $sec"
  start_bg "go_$sec" 120 "$GOPEER" listen --security "$sec" --pad-protocols 60 \
    --key "$WORK/go.key"
  wait_for 20 "$WORK/go_$sec.out" 'e.event==="listening"' >/dev/null
  GO_MA=$(jq_first "$WORK/go_$sec.out" 'e.event==="listening"' 'e.addr+"/p2p/"+e.peer')

  step "ping_$sec" 30 "$HOLEPUNCH" ping "$GO_MA" --count 3 --interval 200 --key "$WORK/us.key" \
    --log-format json
  f=$(both "ping_$sec")
  expect "$f" 'e.event==="identify" && e.protocols.includes("/perf/1.0.0") && e.protocols.includes("/kaspa-holepunch/test/padding-protocol-059/1.0.0")' \
    "we identified go's big (two-message) identify with all its protocols"
  # go sent its signed peer record alone in the second message: parsed and verified
  # (tests/unit/test_identify.c test_record_in_second_message_is_verified: the same split)
  expect "$f" 'e.event==="identify" && e.signed_record===true && e.protocols.includes("/kaspa-holepunch/test/padding-protocol-059/1.0.0")' \
    "go's signed peer record from its second identify message verified"
  [ "$(grep -c '"event":"ping"' "$f")" -eq 3 ] || fail "3 pings to go"
  expect "$WORK/go_$sec.out" 'e.event==="identify" && e.protocols.includes("/ipfs/ping/1.0.0") && e.signed_record' \
    "go identified us, with our signed peer record"

  step "echo_$sec" 60 "$HOLEPUNCH" echo "$GO_MA" --streams 64 --bytes 16M --key "$WORK/us.key" \
    --log-format json
  expect "$(both "echo_$sec")" 'e.event==="echo_result" && e.ok && e.streams===64 && e.failures===0' \
    "64 echo streams + 16 MiB against go ($sec)"

  step "perf_$sec" 60 "$HOLEPUNCH" perf "$GO_MA" --upload 16M --download 16M --key "$WORK/us.key" \
    --log-format json
  expect "$(both "perf_$sec")" 'e.event==="perf" && e.upload_bytes===16777216 && e.download_bytes===16777216' \
    "16 MiB perf each way against go's perf server ($sec)"
done

# go dials us.
start_bg us 120 "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/us.key" --log-format json
US_MA=$(wait_for 10 "$(both us >/dev/null; echo "$WORK/us.err")" 'e.event==="listening"' 'e.addr' 2>/dev/null ||
  wait_for 10 "$WORK/us.out" 'e.event==="listening"' 'e.addr')
for sec in default noise; do
  step "godial_$sec" 90 "$GOPEER" dial "$US_MA" --security "$sec" --streams 64 --echo-bytes 65536 \
    --pings 3 --key "$WORK/go.key" --timeout 80
  expect "$WORK/godial_$sec.out" 'e.event==="identify" && e.protocols.includes("/echo/1.0.0")' \
    "go identified us when it dialed ($sec)"
  expect "$WORK/godial_$sec.out" 'e.event==="result" && e.ok && e.echo_ok && e.ping_ms.length===3 && e.security==="/noise"' \
    "go → us: 64 echo streams and 3 pings over Noise ($sec proposal)"
done
step godial_perf 90 "$GOPEER" dial "$US_MA" --streams 1 --echo-bytes 16777216 --pings 1 \
  --perf 16777216 --key "$WORK/go.key" --timeout 80
expect "$WORK/godial_perf.out" 'e.event==="result" && e.ok && e.perf_up_mbps>0 && e.perf_down_mbps>0' \
  "go → us: 16 MiB echo and 16 MiB perf each way"
f=$(both us)
expect "$f" 'e.event==="identify" && e.agent && e.agent.includes("go")' "we identified go on its inbound connection"
log "PASS"
