#!/usr/bin/env bash
# DCUtR hole punch behind two endpoint-independent ("full cone") NATs, with real processes:
#   relay namespace: `holepunch relay` (Circuit Relay v2, metrics)
#   a (behind router A): `holepunch listen --relay …` (reservation, serves echo/ping)
#   b (behind router B): `holepunch echo|ping <relay>/p2p-circuit/p2p/<server>` from port 4002
# Checks: both sides log direct_connected and the punched connection's remote address is
# the other router's public address; 64 concurrent echo streams succeed; the relayed
# connection is closed after the punch and the relay forwards nothing more for the pair;
# pings keep working over the direct connection after the relay is killed.
# The last two need `--wait-direct` on the client commands (start only once the punched
# connection is up); without it they are reported as not checked (see the gap lines).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (eim/eim)" punch_lab_up --nat-a eim --nat-b eim || exit 1
check "relay listening" punch_start_relay || exit 1
check "server reserved a slot on the relay" punch_start_server || exit 1

# 1. Echo through the relay while DCUtR punches, then the punch checks.
punch_client_case echo 40

# 2. A long ping on the punched connection: the relayed connection is closed after its grace
# period, the relay then forwards nothing for the pair, and killing the relay does not
# disturb the pings.
if ((${#WAIT_DIRECT[@]})); then
  punch_client_bg ping ping --count 60 --interval 300 --timeout 30000 "${WAIT_DIRECT[@]}"
  check "ping: direct connection" jwait "$PW/ping.log" direct_connected 10
  check "ping: first ping answered" jwait "$PW/ping.log" ping 10
  # The host closes the relayed connection 3 s after the punch (relayed_closed, by whichever
  # side's timer fires first); allow up to 8 s.
  grace_closed() {
    jfirst "$PW/ping.log" relayed_closed >/dev/null ||
      jfirst "$PW/srv.log" relayed_closed ".peer == \"$CLI_ID\"" >/dev/null
  }
  end=$((SECONDS + 8))
  until grace_closed || ((SECONDS > end)); do sleep 0.1; done
  check "the relayed connection is closed ≤ 8 s after the punch (relayed_closed) while the ping runs" \
    grace_closed
  sleep 0.3
  c0=$(relay_bytes)
  sleep 1.5
  c1=$(relay_bytes)
  check "relay forwards nothing for the pair after the punch ($c0 → $c1 bytes)" test "$c0" = "$c1"
  check "relay: the pair's circuit is closed" \
    jfirst "$PW/relay.log" circuit_closed ".src == \"$CLI_ID\" and .dst == \"$SRV_ID\""
  n_before=$(jcount "$PW/ping.log" ping)
  t_kill=$(date +%s%3N)
  punch_stop relay
  plog "relay killed after $n_before pings"
  wait "${PIDS[ping]}"
  rc=$?
  unset "PIDS[ping]"
  check "ping exited 0 after the relay was killed" test "$rc" = 0
  after=$(jcount "$PW/ping.log" ping ".ts > $t_kill")
  check "60 pings answered, $after of them after the relay was killed" \
    test "$(jcount "$PW/ping.log" ping)" = 60 -a "$after" -ge 5
  check "the direct connection was never lost" \
    test "$(jcount "$PW/ping.log" disconnected '.relayed == false and .ts < '"$t_kill + 100000"' and (.addr | startswith("/ip4/'$RA_PUB'")) and .reason != "closed locally"')" = 0
else
  echo "# GAP (not checked): ping has no --wait-direct; its stream lives on the relayed" \
    "connection, which the host closes 3 s after the punch, so no client command outlives" \
    "the relay: 'relay killed, direct ping still works' and 'relay stops forwarding' need it"
  # What can be checked today: the relay's circuit for the pair closes (the client exits and
  # the relayed connection is gone) while the relay itself stays up.
  check "relay: the pair's circuit was opened and closed" \
    jfirst "$PW/relay.log" circuit_closed '.src == "'"$CLI_ID"'" and .dst == "'"$SRV_ID"'"'
fi

punch_finish
