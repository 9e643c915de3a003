#!/usr/bin/env bash
# One symmetric NAT (A: a new random public port per destination) against a port-restricted
# one (B): the port the relay observed for A is not the port A's punch SYN leaves from, and
# B's filter drops SYNs from unknown ports, so no punch can work. Expected: every DCUtR
# attempt fails and is logged (dcutr_failed with a reason, then holepunch_gave_up), no
# direct connection appears, and the relayed connection stays up: pings through the relay
# go on during and after the attempts.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (A symmetric, B restricted)" \
  punch_lab_up --nat-a symmetric --nat-b restricted || exit 1
check "relay listening" punch_start_relay || exit 1
check "server reserved a slot on the relay" punch_start_server || exit 1

# The server is DCUtR's B (it accepted the relayed connection): it makes the attempts.
# 36 pings 500 ms apart outlast its three attempts (5 s dial timeout each).
check "ping through the relay: 36 pings answered" \
  punch_client ping 60 ping --count 36 --interval 500 --timeout 55000
check "ping: 36 ping events" test "$(jcount "$PW/ping.log" ping)" = 36
check "client: the connection is relayed" jfirst "$PW/ping.log" connected '.relayed == true'
check "server: DCUtR tried (dcutr_attempt)" jfirst "$PW/srv.log" dcutr_attempt true
n_failed=$(jcount "$PW/srv.log" dcutr_failed)
check "server: every attempt failed with a reason ($n_failed dcutr_failed)" \
  jfirst "$PW/srv.log" dcutr_failed '.reason | length > 0'
check "server: three attempts (DCUtR's retry limit)" test "$n_failed" = 3
check "server: holepunch_gave_up logged, says the relayed connection stays up" \
  jfirst "$PW/srv.log" holepunch_gave_up '.reason | test("relayed")'
check "client: dcutr_failed logged" jfirst "$PW/ping.log" dcutr_failed true
check "no direct connection on either side" \
  test "$(jcount "$PW/srv.log" direct_connected)$(jcount "$PW/ping.log" direct_connected)" = 00
check "the relayed connection was not closed by the punch" \
  test "$(jcount "$PW/srv.log" relayed_closed)$(jcount "$PW/ping.log" relayed_closed)" = 00
t_gave=$(jfirst "$PW/srv.log" holepunch_gave_up true ts)
after=$(jcount "$PW/ping.log" ping ".ts > ${t_gave:-9999999999999}")
check "pings over the relay kept working after the server gave up ($after pings after)" \
  test "$after" -ge 3
punch_finish
