#!/usr/bin/env bash
# Kaspa through a relay and a hole punch, real processes on loopback: a relay
# (`holepunch relay`), a server reserving on it (--relay), a client dialing
# <relay>/p2p-circuit/p2p/<server> with --listen (punchable). DCUtR gives a direct connection
# on both sides (direct_connected), the Kaspa stream runs on it (kaspa_handshake
# relayed=false on both), pings are answered, and a long-lived session keeps answering pings
# after the relayed connection is closed (grace period). Then a client started before the
# server: the relay answers NO_RESERVATION, the client says the server is not there yet and
# retries with backoff until it appears. Last, a server with no listen address cannot be
# punched: --direct-timeout ends the wait and the client retries on a fresh relayed
# connection; --no-require-direct runs Kaspa over the relay instead (and, with a punchable
# server, moves the session to the direct connection once it exists).
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

start_bg relay 55 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/r.key" --log-format json
RELAY="$(listen_addr relay)"
RID="${RELAY##*/p2p/}"
log "relay $RID at $RELAY"

step keygen_s 10 "$H" keygen --key "$WORK/s.key"
SID="$(peer_id_in "$WORK/keygen_s.out")"
step keygen_c 10 "$H" keygen --key "$WORK/c.key"
CID="$(peer_id_in "$WORK/keygen_c.out")"
CIRCUIT="$RELAY/p2p-circuit/p2p/$SID"

# ---- server reserves; client comes through the relay and is punched ---------------------------
start_bg server 50 "$H" server --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY" --key "$WORK/s.key" \
  --log-format json
SPID=$LAST_PID
wait_for 10 server "e.event === 'reservation' && e.relay === '$RID'" >/dev/null
log "ok: server holds a reservation"

# A long-lived client (pings every second by the session itself) through the relay.
start_bg punched 45 "$H" client --remote "$CIRCUIT" --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/c.key" \
  --log-format json --ping-interval 1 --direct-timeout 5
CPID=$LAST_PID
# (--direct-timeout 5: a punch that fails is retried on a fresh relayed connection.)
wait_for 25 punched 'e.event === "kaspa_ready"' >/dev/null
expect punched "e.event === 'connected' && e.peer === '$SID' && e.relayed === true" \
  "client: relayed connection to the server first"
expect punched "e.event === 'kaspa_waiting_direct' && e.peer === '$SID'" "client: waits for the direct connection"
expect punched "e.event === 'direct_connected' && e.peer === '$SID' && /^\\/ip4\\/127\\.0\\.0\\.1\\/tcp\\//.test(e.addr)" \
  "client: direct_connected (hole punch)"
expect punched "e.event === 'kaspa_stream_open' && e.relayed === false && !e.addr.includes('p2p-circuit')" \
  "client: Kaspa stream on the direct connection"
[ "$(jcount punched 'e.event === "kaspa_stream_open" && e.relayed === true')" = 0 ] ||
  fail "client opened a Kaspa stream over the relay"
expect punched "e.event === 'kaspa_handshake' && e.relayed === false" "client: kaspa_handshake relayed=false"
wait_for 5 server "e.event === 'direct_connected' && e.peer === '$CID'" >/dev/null
log "ok: server: direct_connected to the client"
wait_for 5 server "e.event === 'kaspa_handshake' && e.peer === '$CID' && e.relayed === false" >/dev/null
log "ok: server: kaspa_handshake relayed=false"
[ "$(jcount server "e.event === 'kaspa_stream_open' && e.peer === '$CID' && e.relayed === true")" = 0 ] ||
  fail "server served Kaspa over the relay"
expect relay "e.event === 'circuit_open'" "relay carried the circuit that coordinated the punch"
wait_for 5 punched 'e.event === "kaspa_ping"' >/dev/null
log "ok: client: pings answered over the direct connection"

# The relayed connection goes after its grace period (3 s; until the host arms its timer for
# close_at_ms it rides on the Yamux keepalive tick, up to 30 s), and Kaspa keeps going.
T_GONE="$(wait_for 35 punched "e.event === 'disconnected' && e.peer === '$SID' && e.relayed === true" 'e.ts')"
log "ok: the relayed connection was closed after the punch"
wait_for 5 punched "e.event === 'kaspa_ping' && e.ts > $T_GONE" >/dev/null
log "ok: Kaspa pings still answered after the relayed connection is gone"
[ "$(jcount punched 'e.event === "kaspa_session_closed"')" = 0 ] || fail "the session ended with the relayed connection"
kill -TERM "$CPID"
wait "$CPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "client exited $rc on SIGTERM"
expect punched 'e.event === "kaspa_session_closed" && e.relayed === false && e.messages_in > 0' \
  "client: kaspa_session_closed on shutdown"
wait_for 5 server "e.event === 'kaspa_session_closed' && e.peer === '$CID' && e.relayed === false && e.messages_in >= 6" >/dev/null
log "ok: server: kaspa_session_closed for the client's session"

# ---- client first: NO_RESERVATION is retried until the server is there -------------------------
kill -TERM "$SPID"
wait "$SPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "server exited $rc on SIGTERM"
step keygen_s2 10 "$H" keygen --key "$WORK/s2.key"
SID2="$(peer_id_in "$WORK/keygen_s2.out")"
# The PoC's variables: peer and addresses (tried in order; a refused one first) from the
# environment, and the server's listen and relay addresses too.
start_bg early 45 env LIBP2P_REMOTE_PEER_ID="$SID2" \
  LIBP2P_REMOTE_MULTIADDRS="/ip4/127.0.0.1/tcp/1;$RELAY/p2p-circuit" \
  "$H" client --listen /ip4/127.0.0.1/tcp/0 --log-format json --pings 3 --direct-timeout 5
EPID=$LAST_PID
wait_for 10 early "e.event === 'kaspa_server_not_there_yet' && e.peer === '$SID2' &&
  e.addr === '$RELAY/p2p-circuit/p2p/$SID2'" >/dev/null
log "ok: client: the relay has no reservation (server not there yet)"
expect early "e.event === 'kaspa_dial_failed' && e.addr === '/ip4/127.0.0.1/tcp/1/p2p/$SID2'" \
  "client: first address from LIBP2P_REMOTE_MULTIADDRS tried and failed"
wait_for 10 early 'e.event === "kaspa_reconnect" && e.in_ms === 2000' >/dev/null
log "ok: client retries with a growing backoff"
kill -0 "$EPID" 2>/dev/null || fail "client gave up on NO_RESERVATION"
start_bg server2 40 env LIBP2P_LISTEN_MULTIADDRS=/ip4/127.0.0.1/tcp/0 LIBP2P_RELAY_MULTIADDRS="$RELAY" \
  "$H" server --key "$WORK/s2.key" --log-format json
wait "$EPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "early client exited $rc"
expect early 'e.event === "kaspa_pings_done" && e.sent === 3 && e.answered === 3' \
  "client: reached the server once it reserved, 3 pings answered"
expect early "e.event === 'kaspa_handshake' && e.peer === '$SID2' && e.relayed === false" \
  "client: the late session also runs on the direct connection"
expect server2 "e.event === 'reservation' && e.relay === '$RID'" "server: reserved from LIBP2P_RELAY_MULTIADDRS"

# ---- --no-require-direct with a punchable server: Kaspa may start on the relay, then moves to
# the direct connection (one clean session end, no failure, no duplicate on the server).
start_bg upg 30 "$H" client --remote "$RELAY/p2p-circuit/p2p/$SID2" --listen /ip4/127.0.0.1/tcp/0 \
  --log-format json --no-require-direct --ping-interval 1
UPID=$LAST_PID
T_DIRECT="$(wait_for 15 upg "e.event === 'kaspa_handshake' && e.peer === '$SID2' && e.relayed === false" 'e.ts')"
log "ok: --no-require-direct session runs on the direct connection"
if [ "$(jcount upg 'e.event === "kaspa_handshake" && e.relayed === true')" != 0 ]; then
  expect upg "e.event === 'kaspa_upgrade_direct' && e.peer === '$SID2'" "the relayed session was moved (kaspa_upgrade_direct)"
fi
[ "$(jcount upg 'e.event === "kaspa_handshake" && e.relayed === true')" -le 1 ] || fail "more than one session over the relay"
wait_for 5 upg "e.event === 'kaspa_ping' && e.ts > $T_DIRECT" >/dev/null
log "ok: pings answered after the move"
[ "$(jcount upg 'e.event === "kaspa_session_failed" || e.event === "kaspa_reject"')" = 0 ] || fail "the move failed a session"
[ "$(jcount server2 'e.event === "kaspa_reject"')" = 0 ] || fail "server rejected the moved session"
kill -TERM "$UPID"
wait "$UPID" || fail "client exited non-zero on SIGTERM"

# ---- a server reachable only through the relay (no listen address): no punch is possible ------
step keygen_s3 10 "$H" keygen --key "$WORK/s3.key"
SID3="$(peer_id_in "$WORK/keygen_s3.out")"
start_bg server3 30 "$H" server --relay "$RELAY" --key "$WORK/s3.key" --log-format json
wait_for 10 server3 "e.event === 'reservation' && e.relay === '$RID'" >/dev/null
start_bg nodirect 20 "$H" client --remote "$RELAY/p2p-circuit/p2p/$SID3" --log-format json \
  --direct-timeout 2 --exit-after-ready
NPID=$LAST_PID
wait_for 8 nodirect "e.event === 'kaspa_direct_timeout' && e.peer === '$SID3' && e.waited_ms === 2000" >/dev/null
log "ok: client: kaspa_direct_timeout after --direct-timeout"
wait_for 3 nodirect 'e.event === "kaspa_reconnect" && e.reason === "no direct connection in time"' >/dev/null
log "ok: client drops the relayed connection and tries again"
kill "$NPID"
wait "$NPID" || true
[ "$(jcount nodirect 'e.event === "kaspa_stream_open"')" = 0 ] || fail "client ran Kaspa over the relay"
# --no-require-direct: Kaspa over the relay circuit (within its data limit).
step overrelay 20 "$H" client --remote "$RELAY/p2p-circuit/p2p/$SID3" --log-format json \
  --no-require-direct --pings 3
expect overrelay "e.event === 'kaspa_handshake' && e.peer === '$SID3' && e.relayed === true" \
  "client with --no-require-direct: kaspa_handshake relayed=true"
expect overrelay 'e.event === "kaspa_pings_done" && e.answered === 3' "client: 3 pings answered over the relay"
wait_for 5 server3 "e.event === 'kaspa_handshake' && e.relayed === true" >/dev/null
log "ok: server: kaspa_handshake relayed=true"
