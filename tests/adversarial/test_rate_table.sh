#!/usr/bin/env bash
# Issue 9, relay rate table: 2,100 fresh identities from one IP, one RESERVE each, filled the
# relay's 2,048-entry rate table with per-identity buckets, and from then on every new peer from
# any address was refused RESOURCE_LIMIT_EXCEEDED ("rate limit") for 30 s and more. Limits are
# keyed by the address first (what a new source costs the attacker) and a full table evicts
# instead of failing closed: after the flood a new peer on another address reserves at once.
# A second flood spread over 40 addresses (more sources than the table holds with their
# identities) must not lock the good peer out either.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
need_bench_relay
H="$HOLEPUNCH"

# Connection caps out of the way (those are another row): only the rate table is under test.
start_bg relay 55 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --log-format json --max-connections 1100 --max-connections-per-ip 1100
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"

# good NAME IP : one fresh identity on IP reserves; it must be granted within 2 s.
good() {
  local t0 ms
  t0="$(date +%s%N)"
  step "$1" 15 "$BR" reserve "$RELAY" 1 --ip "$2" --timeout 10
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect "$1" 'e.event === "bench_relay" && e.ok === 1' "$1: a new peer on $2 reserves (${ms} ms)"
  [ "$ms" -le 2000 ] || fail "$1: the reservation took ${ms} ms"
}
good good_before 127.0.3.1

# 3 × 700 fresh identities from 127.0.4.1 (bench_relay holds at most 1,024 hosts at once).
for i in 1 2 3; do
  step "flood_one_ip$i" 40 "$BR" reserve "$RELAY" 700 --ip 127.0.4.1 --timeout 35
  log "flood $i: $(jfirst "flood_one_ip$i" 'e.event === "bench_relay"' 'JSON.stringify(e.status)')"
done
good good_after_one_ip 127.0.3.2

# 2,100 more over 40 addresses: 53 a piece, within each address's burst, so every one of them
# leaves per-identity state behind; the table must recycle it rather than refuse the next peer.
for i in 1 2 3; do
  step "flood_40_ips$i" 40 "$BR" reserve "$RELAY" 700 --ip 127.0.5.1 --ips 40 --timeout 35
done
good good_after_40_ips 127.0.3.3
alive_or_fail "$RELAY_PID" relay
