#!/usr/bin/env bash
# Kaspa over a direct libp2p connection between real processes: `holepunch server --listen`
# serves /kaspad/transport/1.0.0; `holepunch client --remote /ip4/127.0.0.1/tcp/P` (the
# /p2p/<id> suffix comes from --peer) handshakes, 20 pings all answered, a timed burst. The
# server logs the client's synthetic fd00::/8 address, identical across two runs of the same
# client key (the duplicate key of rusty-kaspa's hub), and different for another key, which
# dials with the PoC's protocol id /kaspa/p2p/bridge/1.0. A wrong peer ID is retried; a
# long-lived client reconnects with backoff after a server restart; a non-Kaspa peer fails.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
LOAD="${HOLEPUNCH%/*}/kaspa_load" # bench/kaspa_load.c: the load modes

step keygen_s 10 "$H" keygen --key "$WORK/s.key"
SID="$(peer_id_in "$WORK/keygen_s.out")"
step keygen_c 10 "$H" keygen --key "$WORK/c.key"
CID="$(peer_id_in "$WORK/keygen_c.out")"
{ [ -n "$SID" ] && [ -n "$CID" ]; } || fail "keygen printed no peer ID"

start_bg server 55 "$H" server --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/s.key" --log-format json
SPID=$LAST_PID
ADDR="$(listen_addr server)"
TCP="${ADDR%/p2p/*}"
log "server $SID at $ADDR"

# ---- run 1: 20 pings over the direct connection ---------------------------------------------
step run1 30 "$H" client --peer "$SID" --remote "$TCP" --key "$WORK/c.key" --log-format json --pings 20
expect run1 "e.event === 'kaspa_dial' && e.addr === '$ADDR'" "client appended /p2p/<server> to the address"
expect run1 'e.event === "kaspa_stream_open" && e.relayed === false && e.role === "client"' \
  "client opened the Kaspa stream on a direct connection"
expect run1 'e.event === "kaspa_handshake" && e.relayed === false && e.version === 10 &&
  e.network === "kaspa-mainnet"' "client: handshake"
expect run1 'e.event === "kaspa_ready"' "client: Ready"
[ "$(jcount run1 'e.event === "kaspa_ping" && typeof e.rtt_ms === "number"')" -ge 20 ] || fail "client: want 20 kaspa_ping"
expect run1 'e.event === "kaspa_pings_done" && e.sent === 20 && e.answered === 20' "client: 20 of 20 pings answered"
expect run1 "e.event === 'kaspa_session_closed' && e.peer === '$SID' && e.relayed === false &&
  e.messages_out >= 24 && e.bytes_out > 0 && e.bytes_in > 0" "client: kaspa_session_closed with counters"

SYN1="$(wait_for 5 server "e.event === 'kaspa_stream_open' && e.peer === '$CID' && e.role === 'server'" 'e.synthetic_addr')"
case "$SYN1" in "[fd"*"]:"[1-9]*) ;; *) fail "synthetic address $SYN1 is not [fdxx:...]:port" ;; esac
wait_for 5 server "e.event === 'kaspa_handshake' && e.peer === '$CID' && e.addr === '$SYN1' && e.relayed === false" >/dev/null
log "ok: server logged the client's synthetic address $SYN1 in kaspa_handshake"
wait_for 5 server "e.event === 'kaspa_session_closed' && e.peer === '$CID' && e.messages_in >= 24" >/dev/null
log "ok: server logged kaspa_session_closed with counters"

# ---- run 2: same key -> same synthetic address; a timed burst ---------------------------------
step run2 30 "$LOAD" --peer "$SID" --remote "$TCP" --key "$WORK/c.key" --log-format json --burst 4M
expect run2 'e.event === "kaspa_burst" && e.bytes >= 4194304 && e.mb_per_s > 0' "client: burst of 4 MiB measured"
grep -q "MB/s" "$WORK/run2.out" || fail "burst result not printed on stdout"
wait_for 5 server "e.event === 'kaspa_session_closed' && e.peer === '$CID' && e.bytes_in >= 4194304" >/dev/null
log "ok: the server received the burst"
[ "$(jcount server "e.event === 'kaspa_stream_open' && e.peer === '$CID' && e.synthetic_addr === '$SYN1'")" = 2 ] ||
  fail "second run of the same key got another synthetic address"
log "ok: same peer, same synthetic address across runs"

# ---- run 3: another key -> another address; the PoC's protocol id is accepted too ----------
step run3 30 "$H" client --remote "$ADDR" --log-format json --exit-after-ready \
  --kaspa-protocol /kaspa/p2p/bridge/1.0
OTHER="$(jfirst server "e.event === 'kaspa_stream_open' && e.role === 'server' && e.peer !== '$CID'" 'e.synthetic_addr')" ||
  fail "no stream from the throwaway client"
[ "$OTHER" != "$SYN1" ] || fail "two peers got the same synthetic address"
log "ok: another peer, another synthetic address ($OTHER)"
expect server "e.event === 'kaspa_stream_open' && e.synthetic_addr === '$OTHER' && e.protocol === '/kaspa/p2p/bridge/1.0'" \
  "server ran Kaspa on the PoC's protocol id"
expect run3 'e.event === "kaspa_ready"' "client reached Ready over /kaspa/p2p/bridge/1.0"
expect server "e.event === 'identify' && e.protocols.includes('/kaspad/transport/1.0.0') === false" \
  "server identified a client (clients do not serve Kaspa)"
expect run3 "e.event === 'identify' && e.protocols.includes('/kaspad/transport/1.0.0') &&
  e.protocols.includes('/kaspa/p2p/bridge/1.0')" "server advertises both Kaspa protocol ids"

# ---- the PoC client's singular variable, the peer taken from the address ------------------
step envsingle 20 env LIBP2P_REMOTE_MULTIADDR="$ADDR" "$H" client --log-format json --exit-after-ready
expect envsingle "e.event === 'kaspa_ready' && e.peer === '$SID'" "LIBP2P_REMOTE_MULTIADDR (singular) works"

# ---- a wrong peer ID fails the Noise check and is retried, not run --------------------------
start_bg wrong 20 "$H" client --peer "$CID" --remote "$TCP" --log-format json --exit-after-ready
sleep 2
[ "$(jcount wrong 'e.event === "kaspa_ready"')" = 0 ] || fail "client reached Ready with the wrong peer ID"
expect wrong 'e.event === "kaspa_dial_failed"' "wrong peer ID: dial failed"
expect wrong 'e.event === "kaspa_reconnect" && e.in_ms === 1000' "wrong peer ID: retried after 1 s"

# ---- a long-lived client reconnects with backoff when the server goes and comes back -------
start_bg daemon 40 "$H" client --peer "$SID" --remote "$TCP" --key "$WORK/c.key" --log-format json
DPID=$LAST_PID
wait_for 10 daemon 'e.event === "kaspa_ready"' >/dev/null
kill -0 "$SPID" 2>/dev/null || fail "server exited"
kill -TERM "$SPID"
wait "$SPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "server exited $rc on SIGTERM"
log "ok: server exits 0 on SIGTERM"
wait_for 5 daemon 'e.event === "kaspa_session_closed"' >/dev/null
wait_for 5 daemon 'e.event === "kaspa_reconnect" && e.in_ms === 1000' >/dev/null
wait_for 5 daemon 'e.event === "kaspa_reconnect" && e.in_ms === 2000' >/dev/null
log "ok: client retries after 1 s, then 2 s"
start_bg server2 30 "$H" server --listen "$TCP" --key "$WORK/s.key" --log-format json
for _ in $(seq 150); do
  [ "$(jcount daemon 'e.event === "kaspa_ready"')" -ge 2 ] && break
  sleep 0.1
done
[ "$(jcount daemon 'e.event === "kaspa_ready"')" = 2 ] || fail "client did not get a second session"
log "ok: client is back in a session once the server returned"
kill -TERM "$DPID"
wait "$DPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "client exited $rc on SIGTERM"
log "ok: client exits 0 on SIGTERM"

# ---- a libp2p peer that does not serve Kaspa: clear reason, exit 1 -------------------------
start_bg plain 20 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/c.key" --log-format json
PLAIN="$(listen_addr plain)"
step_fails notkaspa 20 "$H" client --remote "$PLAIN" --log-format json --exit-after-ready
[ "$STEP_RC" -eq 1 ] || fail "client against a non-Kaspa peer exited $STEP_RC, want 1"
expect notkaspa 'e.event === "kaspa_session_failed" && e.reason === "the peer does not serve /kaspad/transport/1.0.0"' \
  "client says the peer does not serve Kaspa"
