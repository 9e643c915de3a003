#!/usr/bin/env bash
# Issue 9, circuits to one victim: 16 hop CONNECTs to one reserved peer from one identity took
# every circuit the relay allows that peer (16, counting both ends), and every other source was
# refused "too many circuits for this peer" for 10 s. One source now gets its share of a
# destination's circuits (--max-circuits-per-pair, default 4), and when the destination is full
# a circuit that carries no traffic is cut early for a new source: a good client's echo
# through the circuit passes while the attacker holds its circuits, each of several attempts.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
need_bench_relay
H="$HOLEPUNCH"

start_bg relay 55 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" --log-format json \
  --circuit-idle 2s
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"
for n in victim echo; do step "keygen_$n" 10 "$H" keygen --key "$WORK/$n.key"; done
VICTIM="$(peer_id_in "$WORK/keygen_victim.out")"
start_bg victim 55 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" --key "$WORK/victim.key" --log-format json
wait_for 15 victim 'e.event === "reservation"' >/dev/null
CIRCUIT="$RELAY/p2p-circuit/p2p/$VICTIM"

# good_echo NAME : 2 × 4 KiB echoed through the relay to the victim, within 5 s.
good_echo() {
  local t0 ms
  t0="$(date +%s%N)"
  step "$1" 15 "$H" echo "$CIRCUIT" --streams 2 --bytes 4K --key "$WORK/echo.key" --log-format json
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect "$1" 'e.event === "echo_result" && e.ok === true' "$1: the good client's echo passes (${ms} ms)"
  [ "$ms" -le 5000 ] || fail "$1: the echo took ${ms} ms"
}
good_echo echo_before

# The attacker: one identity on 127.0.4.1, 16 CONNECTs to the victim, held 30 s.
start_bg attack 45 "$BR" connect "$RELAY" 16 --target "$VICTIM" --peers 1 --ip 127.0.4.1 --hold 30 --timeout 10
ATTACK_PID=$LAST_PID
wait_for 15 attack 'e.event === "bench_relay"' >/dev/null
log "attack: $(jfirst attack 'e.event === "bench_relay"' 'JSON.stringify(e.status)')"
expect attack 'e.event === "bench_relay" && e.status.OK === 4 && e.status.RESOURCE_LIMIT_EXCEEDED === 12' \
  "one identity gets its share (4) of the victim's circuits"
for i in 1 2 3; do
  good_echo "echo_during$i"
done
kill -TERM "$ATTACK_PID"
wait "$ATTACK_PID" || true

# Four identities, four circuits each: the victim is full (16). Once they are idle past
# --circuit-idle (2 s), a good client's CONNECT cuts one of them instead of being refused.
start_bg attack4 45 "$BR" connect "$RELAY" 16 --target "$VICTIM" --peers 4 --ip 127.0.4.2 --hold 30 --timeout 10
ATTACK_PID=$LAST_PID
wait_for 15 attack4 'e.event === "bench_relay"' >/dev/null
expect attack4 'e.event === "bench_relay" && e.status.OK === 16' "four identities hold all 16 of the victim's circuits"
sleep 2.5
for i in 1 2 3; do
  good_echo "echo_idle_cut$i"
done
expect relay 'e.event === "circuit_limit" && e.reason === "idle under pressure"' "the relay cut an idle circuit for the good client"
kill -TERM "$ATTACK_PID"
wait "$ATTACK_PID" || true
alive_or_fail "$RELAY_PID" relay
