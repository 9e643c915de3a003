#!/usr/bin/env bash
# The eim/eim punch through the js-libp2p relay (tests/interop/js/relay.mjs, circuit-relay-v2
# hop of js-libp2p 2.x) instead of ours: reservation, relayed connection and DCUtR must not
# depend on our relay's quirks. The relay's data limit is raised (js default 128 KiB) so the
# echo that runs across the punch fits.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
punch_need_root
punch_need_holepunch
# CTest may run interop/npm_ci (which installs node_modules) at the same time: wait for it.
for _ in $(seq 300); do
  [[ -d $SRC_DIR/tests/interop/node_modules/libp2p ]] && break
  sleep 1
done
[[ -d $SRC_DIR/tests/interop/node_modules/libp2p ]] || {
  echo "FAIL: tests/interop/node_modules missing (run: bash tests/interop/npm-ci.sh)"
  exit 1
}

check "natlab up (eim/eim)" punch_lab_up --nat-a eim --nat-b eim || exit 1
check "js-libp2p relay listening" punch_start_js_relay || exit 1
check "server reserved a slot on the js relay" punch_start_server || exit 1
check "js relay granted the server's reservation" \
  jwait "$PW/relay.log" reservation 5 ".peer == \"$SRV_ID\""
punch_client_case echo 60
check "client's relayed connection went through the js relay" \
  jfirst "$PW/echo.log" connected ".relayed == true and (.addr | contains(\"$RELAY_ID/p2p-circuit\"))"
punch_finish
