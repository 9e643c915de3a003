#!/usr/bin/env bash
# Backpressure over one libp2p connection: `kaspa_load --streams 64 --pings 5 --burst 16M`
# opens 64 Kaspa streams at once on the same connection (each session with its own random
# node id, since the server's duplicate key is (node id, address) and all 64 share the
# connection's synthetic address). Stream 0 sends a 16 MiB burst while the 63 others
# handshake and run 5 Ping/Pong rounds each: all 64 reach Ready, all 315 pings are answered
# before the burst's end, the server logs 64 handshakes and 64 session ends and no reject.
# Then --burst over plain TCP (--kaspa-connect): measured the same way, the server reads every
# byte. A peer that does not serve Kaspa fails every stream (exit 1, counted in the summary).
# The "before the burst's end" check needs round-robin stream service in the host (the
# connection's pull, lp2p__conn_flush in src/host/conn.c): without it the bulk stream, first
# in the connection's list, refills the connection after every write and in about 1 run of 3
# the Pings wait until the burst is over.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
LOAD="${HOLEPUNCH%/*}/kaspa_load" # bench/kaspa_load.c: the load modes

SID="$(new_key s)"
# --log-repeat 0: the test counts the server's 64 kaspa_session_closed lines one by one.
start_bg server 50 "$H" server --listen /ip4/127.0.0.1/tcp/0 --kaspa-listen 127.0.0.1:0 \
  --key "$WORK/s.key" --log-format json --log-repeat 0
ADDR="$(listen_addr server)"
TCP="${ADDR%/p2p/*}"
KTCP="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
log "server $SID at $ADDR and $KTCP"

# ---- 64 streams at once, one of them bursting -------------------------------------------------
step streams 40 "$LOAD" --peer "$SID" --remote "$TCP" --log-format json \
  --streams 64 --pings 5 --burst 16M
expect streams 'e.event === "kaspa_streams_opened" && e.count === 64' "client opened 64 streams at once"
[ "$(jcount streams 'e.event === "kaspa_connection"')" = 1 ] || fail "client used more than one connection"
expect streams 'e.event === "kaspa_streams" && e.opened === 64 && e.ready === 64 &&
  e.pings_answered === 315 && e.failed === 0' "summary: 64 opened, 64 ready, 315 pings answered, none failed"
[ "$(jcount streams 'e.event === "kaspa_ready"')" = 64 ] || fail "client: want 64 kaspa_ready"
[ "$(jcount streams 'e.event === "kaspa_stream_result" && e.ok === true && e.ready === true')" = 64 ] ||
  fail "client: want 64 successful kaspa_stream_result"
[ "$(jcount streams 'e.event === "kaspa_stream_result" && e.index > 0 && e.pings_answered === 5')" = 63 ] ||
  fail "client: want 63 sessions with 5 pings answered"
expect streams 'e.event === "kaspa_stream_result" && e.index === 0 && e.burst_bytes >= 16777216' \
  "client: session 0 sent the 16 MiB burst"
expect streams 'e.event === "kaspa_burst" && e.bytes >= 16777216 && e.mb_per_s > 0' "client: burst measured"
NODES="$(node -e '
    const ids = new Set();
    for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!l.startsWith("{")) continue;
      const e = JSON.parse(l);
      if (e.event === "kaspa_stream_result") ids.add(e.node_id);
    }
    console.log(ids.size);' "$WORK/streams.err")"
[ "$NODES" = 64 ] || fail "want 64 distinct node ids, got $NODES"
log "ok: 64 distinct node ids"
# Every Ping/Pong session ended before the burst did: their messages were not queued behind it.
BURST_END="$(jfirst streams 'e.event === "kaspa_burst"' 'e.ts')"
LAST_PINGS="$(node -e '
  let m = 0;
  for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) {
    if (!l.startsWith("{")) continue;
    const e = JSON.parse(l);
    if (e.event === "kaspa_stream_result" && e.index > 0) m = Math.max(m, e.ts);
  }
  console.log(m);' "$WORK/streams.err")"
[ "$LAST_PINGS" -gt 0 ] && [ "$LAST_PINGS" -le "$BURST_END" ] ||
  fail "pings finished at $LAST_PINGS, after the burst ($BURST_END): they waited behind it"
log "ok: all pings answered while the burst ran (last at $LAST_PINGS, burst end $BURST_END)"

CID="$(jfirst server 'e.event === "kaspa_stream_open" && e.role === "server"' 'e.peer')"
for _ in $(seq 50); do
  [ "$(jcount server "e.event === 'kaspa_session_closed' && e.peer === '$CID'")" -ge 64 ] && break
  sleep 0.1
done
[ "$(jcount server "e.event === 'kaspa_handshake' && e.peer === '$CID'")" = 64 ] || fail "server: want 64 kaspa_handshake"
[ "$(jcount server "e.event === 'kaspa_session_closed' && e.peer === '$CID'")" = 64 ] ||
  fail "server: want 64 kaspa_session_closed"
[ "$(jcount server 'e.event === "kaspa_reject" || (e.event === "kaspa_session_closed" && /reject/.test(e.reason))')" = 0 ] ||
  fail "server rejected a session"
expect server "e.event === 'kaspa_session_closed' && e.peer === '$CID' && e.bytes_in >= 16777216" \
  "server read the whole burst on one stream"
log "ok: server: 64 handshakes, 64 session ends, no reject"

# ---- --burst over plain TCP -------------------------------------------------------------------
step tburst 30 "$LOAD" --kaspa-connect "$KTCP" --log-format json --burst 16M --no-gzip
expect tburst 'e.event === "kaspa_burst" && e.bytes >= 16777216 && e.mb_per_s > 0' "TCP client: burst measured"
grep -q "MB/s" "$WORK/tburst.out" || fail "TCP burst result not printed on stdout"
wait_for 5 server 'e.event === "kaspa_session_closed" && /^127\.0\.0\.1:/.test(e.peer) && e.bytes_in >= 16777216' >/dev/null
log "ok: server read the whole TCP burst"

# ---- refused combinations; a peer without Kaspa fails every stream ----------------------------
step_fails tcpstreams 10 "$LOAD" --kaspa-connect "$KTCP" --streams 2
[ "$STEP_RC" -eq 2 ] || fail "--streams with --kaspa-connect exited $STEP_RC, want 2"
step_fails nodeid 10 "$LOAD" --remote "$ADDR" --streams 2 --node-id 00112233445566778899aabbccddeeff
[ "$STEP_RC" -eq 2 ] || fail "--streams 2 with --node-id exited $STEP_RC, want 2"
new_key p >/dev/null
start_listener_bg plain p 20
PLAIN="$(listen_addr plain)"
step_fails notkaspa 20 "$LOAD" --remote "$PLAIN" --log-format json --streams 3 --pings 1
[ "$STEP_RC" -eq 1 ] || fail "--streams against a non-Kaspa peer exited $STEP_RC, want 1"
expect notkaspa 'e.event === "kaspa_streams" && e.opened === 3 && e.ready === 0 && e.failed === 3' \
  "non-Kaspa peer: all 3 streams counted as failed"
