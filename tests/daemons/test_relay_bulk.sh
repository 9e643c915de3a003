#!/usr/bin/env bash
# Bulk transfers over a relayed connection (our relay with its limits off, our endpoints):
# a relayed connection must never stall. Regression: the relayed connection's congestion
# test (pending + staged bytes) could stop the streams while the circuit stream never
# crossed its own high-water mark, so nothing ever woke them up again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_holepunch
H=$HOLEPUNCH
J=(--log-format json)

start_bg relay 150 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --circuit-data 0 --circuit-duration 0 \
  --key "$WORK/relay.key" "${J[@]}"
RELAY=$(listen_addr relay)
start_bg listener 150 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" \
  --key "$WORK/listener.key" "${J[@]}"
wait_for 15 listener 'e.event === "reservation"' 'e.relay' >/dev/null
LID=$("$H" id --key "$WORK/listener.key")
for i in 1 2 3 4 5 6; do
  step "perf$i" 40 "$H" perf "$RELAY/p2p-circuit/p2p/$LID" --upload 32M --download 4M \
    --key "$WORK/client$i.key" "${J[@]}"
  expect "perf$i" 'e.event === "perf" && e.upload_bytes === 33554432 && e.download_bytes === 4194304' \
    "run $i: 32 MiB up, 4 MiB down through the relay"
done
expect listener 'e.event === "connected" && e.relayed === true' "the transfers ran over relayed connections"
