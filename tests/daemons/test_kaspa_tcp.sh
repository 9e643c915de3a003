#!/usr/bin/env bash
# Kaspa over plain TCP between real processes: `holepunch server --kaspa-listen 127.0.0.1:0`
# (bound port in kaspa_listen) and `holepunch client --kaspa-connect`: handshake and Ready on
# both sides, 3 pings answered, byte counters in kaspa_session_closed; a second client with
# the same node id is rejected DUPLICATE_CONNECTION (rusty-kaspa's PeerKey = node id + IP);
# a client on another network gets rusty-kaspa's "Network mismatch" reason, one advertising
# protocol version 6 "P2P protocol version mismatch".
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

start_bg server 50 "$H" server --kaspa-listen 127.0.0.1:0 --log-format json --ping-interval 0
SPID=$LAST_PID
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
case "$ADDR" in 127.0.0.1:[1-9]*) ;; *) fail "kaspa_listen addr $ADDR is not 127.0.0.1:PORT" ;; esac
log "server at $ADDR"

# ---- handshake, Ready, pings ------------------------------------------------------------
step c1 20 "$H" client --kaspa-connect "$ADDR" --log-format json --pings 3
expect c1 'e.event === "kaspa_handshake" && e.version === 10 && e.network === "kaspa-mainnet" &&
  e.user_agent.startsWith("/kaspa-holepunch:") && e.addr === "'"$ADDR"'"' "client: handshake with the server"
expect c1 'e.event === "kaspa_ready"' "client: Ready"
[ "$(jcount c1 'e.event === "kaspa_ping" && typeof e.rtt_ms === "number"')" = 3 ] || fail "client: want 3 kaspa_ping"
expect c1 'e.event === "kaspa_pings_done" && e.sent === 3 && e.answered === 3' "client: 3 of 3 pings answered"
expect c1 'e.event === "kaspa_session_closed" && e.bytes_in > 0 && e.bytes_out > 0 &&
  e.messages_out >= 7 && e.messages_in >= 7' "client: kaspa_session_closed with byte and message counts"
wait_for 5 server 'e.event === "kaspa_handshake" && e.relayed === false && /^127\.0\.0\.1:/.test(e.addr)' >/dev/null
expect server 'e.event === "kaspa_ready"' "server: Ready"
wait_for 5 server 'e.event === "kaspa_session_closed" && e.messages_in >= 7 && e.bytes_in > 0' >/dev/null
log "ok: server logged kaspa_session_closed with counters"

# ---- duplicate: same node id from the same IP while the first session lives -------------
NODE=00112233445566778899aabbccddeeff
start_bg keep 40 "$H" client --kaspa-connect "$ADDR" --log-format json --node-id "$NODE"
KPID=$LAST_PID
wait_for 10 keep 'e.event === "kaspa_ready"' >/dev/null
step_fails dup 20 "$H" client --kaspa-connect "$ADDR" --log-format json --node-id "$NODE" --exit-after-ready
[ "$STEP_RC" -eq 1 ] || fail "duplicate client exited $STEP_RC, want 1"
expect dup 'e.event === "kaspa_reject" && e.direction === "received" && e.reason === "DUPLICATE_CONNECTION"' \
  "duplicate client got Reject DUPLICATE_CONNECTION"
wait_for 5 server 'e.event === "kaspa_reject" && e.direction === "sent" && e.reason === "DUPLICATE_CONNECTION"' >/dev/null
log "ok: server rejected the duplicate"
kill -0 "$KPID" 2>/dev/null || fail "the first session's client exited"
[ "$(jcount keep 'e.event === "kaspa_session_closed"')" = 0 ] || fail "the first session was closed by the duplicate"
log "ok: the first session survived"

# ---- wrong network -----------------------------------------------------------------------
step_fails net 20 "$H" client --kaspa-connect "$ADDR" --log-format json --network kaspa-testnet-10 --exit-after-ready
# Both sides check concurrently (rusty-kaspa does too), so each may send its own Reject.
expect net 'e.event === "kaspa_reject" && e.reason.startsWith("Network mismatch - local: ")' \
  "wrong-network client: Network mismatch"
wait_for 5 server 'e.event === "kaspa_reject" && e.direction === "sent" &&
  e.reason === "Network mismatch - local: kaspa-mainnet, remote: kaspa-testnet-10"' >/dev/null
log "ok: server rejected the wrong network with rusty-kaspa's reason text"
expect net 'e.event === "kaspa_session_failed"' "wrong-network client says the session failed"
[ "$(jcount net 'e.event === "kaspa_ready"')" = 0 ] || fail "wrong-network client reached Ready"

# ---- too old a protocol version (--protocol-version) ---------------------------------------
step_fails oldver 20 "$H" client --kaspa-connect "$ADDR" --log-format json --protocol-version 6 --exit-after-ready
wait_for 5 server 'e.event === "kaspa_reject" && e.direction === "sent" &&
  e.reason === "P2P protocol version mismatch - local: 10, remote: 6"' >/dev/null
log "ok: server rejected protocol version 6 with rusty-kaspa's reason text"
expect oldver 'e.event === "kaspa_handshake" && e.version === 10' "old-version client saw the server's version 10"

kill -0 "$SPID" 2>/dev/null || fail "server exited"
# ---- clean shutdown on SIGTERM -------------------------------------------------------------
kill -TERM "$SPID"
wait "$SPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "server exited $rc on SIGTERM"
log "ok: server exits 0 on SIGTERM"
