#!/usr/bin/env bash
# DCUtR hole punch behind two port-restricted NATs (only conntrack-established inbound, the
# rest dropped): the punch works only because both sides send their SYNs from their listen
# port towards each other's observed address at the same time (TCP simultaneous open).
# Relay in the relay namespace, `holepunch listen` behind A, `holepunch echo` behind B.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch

check "natlab up (restricted/restricted)" \
  punch_lab_up --nat-a restricted --nat-b restricted || exit 1
check "relay listening" punch_start_relay || exit 1
check "server reserved a slot on the relay" punch_start_server || exit 1
punch_client_case echo 40
# A restricted NAT drops unsolicited SYNs: the direct connection cannot be a plain dial,
# so it proves the simultaneous open through both filters.
punch_finish
