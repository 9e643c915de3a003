#!/usr/bin/env bash
# Real holepunch processes on 127.0.0.1, failure paths: ping to a closed port and to a
# listener that never speaks (both exit non-zero, quickly, saying why), a listener fed
# garbage by a raw socket (logs why it dropped it and keeps serving), 8 concurrent clients,
# and shutdown on SIGINT (exit 0, `shutdown` event).
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

LID="$(new_key l)"
new_key c >/dev/null

# A TCP port that is free right now: bind to 0 and close (node prints it).
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

# ---- closed port: refused at once ---------------------------------------------------------
PORT="$(free_port)"
T0=$SECONDS
step_fails ping_closed 20 "$H" ping "/ip4/127.0.0.1/tcp/$PORT/p2p/$LID" --count 1 \
  --log-format json --key "$WORK/c.key"
[ $((SECONDS - T0)) -le 5 ] || fail "ping to a closed port took $((SECONDS - T0)) s"
expect ping_closed "e.event === 'connection_failed' && e.stage === 'dial' && /refused/.test(e.reason)" \
  "ping to a closed port: connection_failed at the dial stage, reason says refused"

# ---- a listener that accepts and never speaks: the client gives up after --timeout ---------
start_bg mute 30 node -e '
  const s = require("net").createServer(c => { c.on("error", () => {}); });
  s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({event: "listening", port: s.address().port})));'
MPORT="$(wait_for 10 mute 'e.event === "listening"' 'e.port')"
T0=$SECONDS
step_fails ping_mute 20 "$H" ping "/ip4/127.0.0.1/tcp/$MPORT/p2p/$LID" --count 1 --timeout 1500 \
  --log-format json --key "$WORK/c.key"
DT=$((SECONDS - T0))
[ "$DT" -le 6 ] || fail "ping to a mute listener with --timeout 1500 took ${DT}s"
expect ping_mute "e.event === 'timeout' && e.reason" "ping to a mute listener logs a timeout event"
log "ok: ping to a mute listener gave up after ${DT}s: $(grep -v '^{' "$WORK/ping_mute.err" | head -n1)"

# ---- a real listener: garbage, then 8 clients at once, then SIGINT ------------------------
start_listener_bg listener l 60
LPID=$LAST_PID
ADDR="$(listen_addr listener)"
LPORT="$(echo "$ADDR" | sed -E 's|^/ip4/127.0.0.1/tcp/([0-9]+)/.*|\1|')"

# An HTTP request is not multistream: the listener drops it and says why.
node -e '
  const c = require("net").connect(Number(process.argv[1]), "127.0.0.1", () => {
    c.write("GET / HTTP/1.1\r\nHost: x.example\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  });
  c.on("error", () => process.exit(0));
  c.on("close", () => process.exit(0));
  setTimeout(() => { console.error("listener kept the garbage connection open"); process.exit(1); }, 5000);' \
  "$LPORT" || fail "listener did not close a connection that sent HTTP"
wait_for 5 listener "e.event === 'connection_failed' && e.stage === 'multistream' && e.reason" >/dev/null
log "ok: listener dropped an HTTP request with a reason"

# 8 clients at once, each with its own key.
PIDS=()
for i in 1 2 3 4 5 6 7 8; do
  timeout -k 2 30 "$H" ping "$ADDR" --count 2 --interval 20 --log-format json \
    --key "$WORK/c$i.key" >"$WORK/multi$i.out" 2>"$WORK/multi$i.err" &
  PIDS+=($!)
done
for i in 1 2 3 4 5 6 7 8; do
  wait "${PIDS[$((i - 1))]}" || fail "concurrent client $i failed"
  [ "$(jcount "multi$i" 'e.event === "ping"')" = 2 ] || fail "concurrent client $i: want 2 pings"
done
[ "$(jcount listener 'e.event === "connected" && e.direction === "inbound"')" -ge 8 ] ||
  fail "listener saw fewer than 8 inbound connections"
log "ok: 8 concurrent clients pinged twice each"

kill -INT "$LPID"
LRC=0
wait "$LPID" || LRC=$?
[ "$LRC" -eq 0 ] || fail "listener exited $LRC after SIGINT"
expect listener "e.event === 'shutdown' && e.signal === 'SIGINT'" "listener shut down on SIGINT with exit 0"
