#!/usr/bin/env bash
# DCUtR hole punch behind eim NATs with 50 ms added on each router's public link (each
# direction), so the relayed RTT between the peers is ≥ 4 × 50 ms = 200 ms plus the relay's
# own legs. The punch must still work, and relayed → direct is recorded (ms_since_relayed):
# the aim is under 500 ms. DCUtR's timing (B waits RTT/2 after SYNC) is what makes the SYNs
# meet; a wrong RTT estimate shows here as a later attempt or a failure.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (eim/eim, 50 ms on each router)" \
  punch_lab_up --nat-a eim --nat-b eim --delay-a 50 --delay-b 50 || exit 1
check "relay listening" punch_start_relay || exit 1
check "server reserved a slot on the relay" punch_start_server || exit 1
punch_client_case ping 60
check "DCUtR measured the delayed RTT (server's rtt_ms ${RTT_SERVER:-?} ≥ 200)" \
  test "${RTT_SERVER:-0}" -ge 200
echo "# RESULT delay=50ms ms_since_relayed client=${MS_CLIENT:-?} server=${MS_SERVER:-?}" \
  "rtt_ms=${RTT_SERVER:-?}"
if [[ -n ${MS_CLIENT:-} && $MS_CLIENT != null ]] && ((MS_CLIENT >= 500)); then
  echo "# NOTE: relayed → direct took ${MS_CLIENT} ms, above the 500 ms aim"
fi
punch_finish
