#!/usr/bin/env bash
# holepunch bridge between real processes on loopback (issue 10), with Kaspa stand-ins:
#
#   client --kaspa-connect ──TCP──▶ bridge B ══libp2p /kaspad/transport/1.0.0══▶ bridge A
#        (B's loopback address for A)                     ──TCP from A's loopback for B──▶ server
#
# Shows: each bridge prints the kaspad flag for its peer; Version/Verack/Ready and pings end to
# end with relayed=false on both bridges; the stand-in server sees the connection come from
# A's loopback address for B; both bridges' taps log each side's Version; a 64 MiB burst
# arrives whole (bridge byte counters equal the client's and server's transport counters);
# a kaspad connection to a peer with no connection is refused at once; killing bridge B
# closes the sessions on A, the server and the client cleanly, and a restarted B carries the
# client's reconnection; a session over the per-peer limit is refused with a log line, and
# garbage on one session costs only that session; a libp2p peer that was not configured
# (holepunch client over /kaspad/transport/1.0.0) gets a loopback address of its own, a
# second one is refused while the first has a session (--max-inbound-peers 1) and served
# once it is gone (the slot is given back).
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
LOAD="${HOLEPUNCH%/*}/kaspa_load" # bench/kaspa_load.c: the load modes

IDA="$(new_key a)"
IDB="$(new_key b)"
IDC="$(new_key c)" # configured on B, never started
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PA="$(free_port)"
PB="$(free_port)"

# ---- --network picks rusty-kaspa's default P2P port (consensus/core/src/network.rs) ------------
for np in kaspa-mainnet:16111 kaspa-testnet-10:16211 kaspa-testnet-12:16311 kaspa-testnet-11:16411 \
  kaspa-simnet:16511 kaspa-devnet:16611; do
  net=${np%:*} port=${np#*:}
  start_bg "net_$net" 20 "$H" bridge --key "$WORK/c.key" --network "$net" --peer "$IDB" --log-format json
  for _ in $(seq 50); do grep -q "kaspad flag" "$WORK/net_$net.out" 2>/dev/null && break; sleep 0.1; done
  kill -TERM "$LAST_PID"
  wait "$LAST_PID" 2>/dev/null || true
  grep -q "kaspad at 127.0.0.1:$port, network $net" "$WORK/net_$net.out" || fail "$net: kaspad not at :$port"
  grep -q -- "--connect=127\.[0-9.]*:$((port + 2)) " "$WORK/net_$net.out" || fail "$net: peer port not $((port + 2))"
done
log "ok: --network sets kaspad's default port and the peer port (kaspad's + 2)"
step_fails badnet 10 "$H" bridge --key "$WORK/c.key" --network kaspa-moon --peer "$IDB"
[ "$STEP_RC" -eq 2 ] || fail "unknown --network exited $STEP_RC, want 2"

start_bg server 120 "$H" server --kaspa-listen 127.0.0.1:0 --log-format json --ping-interval 0
SPID=$LAST_PID
KASPAD="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"

start_bg bridgeA 120 "$H" bridge --key "$WORK/a.key" --kaspad "$KASPAD" \
  --listen /ip4/127.0.0.1/tcp/0 --peer "$IDB" --peer-port "$PA" --max-inbound-peers 1 \
  --log-format json
APID=$LAST_PID
AADDR="$(listen_addr bridgeA)"
LO_A_FOR_B="$(wait_for 10 bridgeA 'e.event === "bridge_listen" && e.peer === "'"$IDB"'"' 'e.addr')"
LO_A_FOR_B="${LO_A_FOR_B%:*}"

start_b() {
  local name=$1
  shift
  start_bg "$name" 120 "$H" bridge --key "$WORK/b.key" --kaspad 127.0.0.1:9 \
    --listen /ip4/127.0.0.1/tcp/0 --peer "$IDA,${AADDR%/p2p/*}" --peer "$IDC" \
    --peer-port "$PB" --log-format json "$@"
  BPID=$LAST_PID
}
start_b bridgeB
EP="$(wait_for 10 bridgeB 'e.event === "bridge_listen" && e.peer === "'"$IDA"'"' 'e.addr')"
case "$EP" in 127.*:"$PB") ;; *) fail "B's endpoint for A is $EP, want 127.x.y.z:$PB" ;; esac
[ "${EP%:*}" != 127.0.0.1 ] || fail "B uses 127.0.0.1 for A"
grep -q -- "--connect=$EP" "$WORK/bridgeB.out" || fail "B did not print the kaspad flag --connect=$EP"
log "ok: B prints --connect=$EP for A; A uses $LO_A_FOR_B for B"
wait_for 10 bridgeB 'e.event === "bridge_peer_direct" && e.peer === "'"$IDA"'"' >/dev/null
log "ok: B keeps a direct connection to A"

# ---- handshake and pings end to end ----------------------------------------------------------
step c1 30 "$H" client --kaspa-connect "$EP" --log-format json --pings 5 --ping-interval 0
expect c1 'e.event === "kaspa_ready"' "client: Ready through both bridges"
expect c1 'e.event === "kaspa_pings_done" && e.sent === 5 && e.answered === 5' "client: 5 of 5 pings answered"
wait_for 5 server 'e.event === "kaspa_handshake" && e.addr.startsWith("'"$LO_A_FOR_B"':")' >/dev/null
log "ok: the stand-in kaspad saw the connection come from A's loopback address for B ($LO_A_FOR_B)"
expect bridgeA 'e.event === "bridge_session_open" && e.direction === "inbound" && e.relayed === false &&
  e.loopback === "'"$LO_A_FOR_B"'"' "A: inbound session, relayed=false"
expect bridgeB 'e.event === "bridge_session_open" && e.direction === "outbound" && e.relayed === false' \
  "B: outbound session, relayed=false"
for side in local remote; do
  for b in bridgeA bridgeB; do
    expect "$b" 'e.event === "bridge_peer_version" && e.side === "'$side'" && e.network === "kaspa-mainnet" &&
      e.protocol_version === 10 && e.user_agent.startsWith("/kaspa-holepunch:")' "$b: tap saw the $side Version"
  done
done
wait_for 5 bridgeA 'e.event === "bridge_session_closed" && e.reason === "both sides closed"' >/dev/null
log "ok: A's session ended cleanly after the client left"

# ---- a 64 MiB burst, byte counts end to end ----------------------------------------------------
step burst 60 "${H%/*}/kaspa_load" --kaspa-connect "$EP" --log-format json --burst 64M --ping-interval 0
expect burst 'e.event === "kaspa_burst" && e.bytes >= 67108864' "client: 64 MiB burst through the bridges"
OUT="$(jfirst burst 'e.event === "kaspa_session_closed"' 'e.bytes_out')"
IN="$(jfirst burst 'e.event === "kaspa_session_closed"' 'e.bytes_in')"
wait_for 5 bridgeA 'e.event === "bridge_session_closed" && e.bytes_to_kaspad === '"$OUT"' &&
  e.bytes_from_kaspad === '"$IN"' && e.reason === "both sides closed"' >/dev/null
wait_for 5 bridgeB 'e.event === "bridge_session_closed" && e.bytes_from_kaspad === '"$OUT"' &&
  e.bytes_to_kaspad === '"$IN"'' >/dev/null
log "ok: both bridges carried exactly the client's $OUT bytes out and $IN bytes in"
# The stand-in counts what it read before its own session ended (the client's trailing
# GOAWAY may come after): it read everything up to that point, as over direct TCP.
SIN="$(wait_for 5 server 'e.event === "kaspa_session_closed" && e.messages_in > 1000' 'e.bytes_in')"
[ $((OUT - SIN)) -ge 0 ] && [ $((OUT - SIN)) -le 64 ] || fail "server read $SIN of $OUT bytes"
expect server 'e.event === "kaspa_session_closed" && e.messages_in > 1000 && /^(closed|stream closed by peer)$/.test(e.reason)' \
  "server: the burst session closed cleanly"

# ---- refused at once: a peer with no connection ----------------------------------------------
EPC="$(wait_for 10 bridgeB 'e.event === "bridge_listen" && e.peer === "'"$IDC"'"' 'e.addr')"
T0=$SECONDS
step_fails refused 20 "$H" client --kaspa-connect "$EPC" --log-format json --exit-after-ready
[ $((SECONDS - T0)) -le 5 ] || fail "the refused connection took $((SECONDS - T0)) s"
expect bridgeB 'e.event === "bridge_session_refused" && e.peer === "'"$IDC"'" && e.direction === "outbound"' \
  "B refused kaspad's connection to an unconnected peer at once, with a log line"

# ---- killing bridge B closes everything cleanly; a restarted B carries the reconnection -------
start_bg keep 90 "$H" client --kaspa-connect "$EP" --log-format json --ping-interval 0
KPID=$LAST_PID
wait_for 10 keep 'e.event === "kaspa_ready"' >/dev/null
N_A="$(jcount bridgeA 'e.event === "bridge_session_closed"')"
kill -TERM "$BPID"
wait "$BPID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "bridge B exited $rc on SIGTERM"
expect bridgeB 'e.event === "bridge_session_closed" && e.reason === "bridge shutting down"' \
  "B: its session closed on shutdown"
wait_for 10 bridgeA 'e.event === "bridge_session_closed" && e.direction === "inbound"' >/dev/null
[ "$(jcount bridgeA 'e.event === "bridge_session_closed"')" -gt "$N_A" ] || fail "A did not close its session"
wait_for 10 keep 'e.event === "kaspa_session_closed"' >/dev/null
wait_for 10 server 'e.event === "kaspa_session_closed" && e.messages_in < 100 && e.messages_in >= 4' >/dev/null
log "ok: killing B closed the sessions on A, the client and the server"
start_b bridgeB2 --max-sessions-per-peer 2
wait_for 15 bridgeB2 'e.event === "bridge_peer_direct" && e.peer === "'"$IDA"'"' >/dev/null
wait_for 40 keep '(() => { globalThis.n = (globalThis.n || 0) + (e.event === "kaspa_ready"); return globalThis.n >= 2; })()' >/dev/null
expect bridgeB2 'e.event === "bridge_session_open" && e.direction === "outbound"' "restarted B carried the client's reconnection"
kill -0 "$APID" 2>/dev/null || fail "bridge A exited"
kill -0 "$SPID" 2>/dev/null || fail "server exited"
kill -0 "$KPID" 2>/dev/null || fail "client exited"

# ---- the per-peer limit, and garbage costing only its own session -----------------------------
# B2 allows 2 sessions per peer: keep holds one, a silent TCP connection the second, and the
# third is refused with a log line.
N_KEEP_CLOSED="$(jcount keep 'e.event === "kaspa_session_closed"')"
exec 3<>"/dev/tcp/${EP%:*}/${EP#*:}"
wait_for 5 bridgeB2 '(() => { globalThis.n = (globalThis.n || 0) + (e.event === "bridge_session_open"); return globalThis.n >= 2; })()' >/dev/null
exec 4<>"/dev/tcp/${EP%:*}/${EP#*:}"
wait_for 5 bridgeB2 'e.event === "bridge_session_refused" && e.reason.includes("max_sessions_per_peer")' >/dev/null
log "ok: the third session to A was refused by the per-peer limit, with a log line"
exec 4>&-
N_A="$(jcount bridgeA 'e.event === "bridge_session_closed"')"
printf 'GET / HTTP/1.1\r\nthis is not HTTP/2 at all, just garbage\r\n\r\n' >&3
# The stand-in answers GOAWAY and closes: that comes back as EOF on our socket (half-close
# propagated through both bridges); once we close too, the session is over on A.
timeout 10 cat <&3 >"$WORK/garbage_reply.bin" || fail "no EOF on the garbage connection"
[ -s "$WORK/garbage_reply.bin" ] || fail "the stand-in's GOAWAY did not come back"
exec 3>&-
wait_for 10 bridgeA '(() => { globalThis.n = (globalThis.n || 0) + (e.event === "bridge_session_closed"); return globalThis.n > '"$N_A"'; })()' >/dev/null
sleep 0.5
[ "$(jcount keep 'e.event === "kaspa_session_closed"')" = "$N_KEEP_CLOSED" ] || fail "the garbage cost the other session too"
kill -0 "$KPID" 2>/dev/null || fail "client exited"
kill -0 "$BPID" 2>/dev/null || fail "bridge B2 exited"
log "ok: garbage closed only its own session (A's kaspad connection for it), the client's session lives on"

# ---- peers that were not configured: own loopback address, --max-inbound-peers, slot reuse -----
step u1 30 "$H" client --peer "$IDA" --remote "${AADDR%/p2p/*}" --key "$WORK/u1.key" \
  --log-format json --pings 2 --ping-interval 0
expect u1 'e.event === "kaspa_pings_done" && e.answered === 2' "an unconfigured libp2p peer reached the stand-in through A"
LO_U1="$(jfirst bridgeA 'e.event === "bridge_session_open" && e.peer !== "'"$IDB"'"' 'e.loopback')"
[ -n "$LO_U1" ] && [ "$LO_U1" != "$LO_A_FOR_B" ] || fail "the unconfigured peer got no loopback address of its own ($LO_U1)"
wait_for 5 server 'e.event === "kaspa_handshake" && e.addr.startsWith("'"$LO_U1"':")' >/dev/null
log "ok: the stand-in saw the unconfigured peer from its own loopback address $LO_U1"
start_bg u1keep 60 "$H" client --peer "$IDA" --remote "${AADDR%/p2p/*}" --key "$WORK/u1.key" \
  --log-format json --ping-interval 0
U1PID=$LAST_PID
wait_for 10 u1keep 'e.event === "kaspa_ready"' >/dev/null
start_bg u2 30 "$H" client --peer "$IDA" --remote "${AADDR%/p2p/*}" --key "$WORK/u2.key" \
  --log-format json --ping-interval 0 --exit-after-ready
U2PID=$LAST_PID
wait_for 10 bridgeA 'e.event === "bridge_session_refused" && e.direction === "inbound" &&
  e.reason.includes("not configured")' >/dev/null
log "ok: a second unconfigured peer was refused while the first had a session"
kill "$U2PID" 2>/dev/null || true
kill -TERM "$U1PID"
wait "$U1PID" 2>/dev/null || true
sleep 0.5
step u2b 30 "$H" client --peer "$IDA" --remote "${AADDR%/p2p/*}" --key "$WORK/u2.key" \
  --log-format json --pings 2 --ping-interval 0
expect u2b 'e.event === "kaspa_pings_done" && e.answered === 2' "once the first was gone, the second unconfigured peer was served (slot reused)"

# ---- backpressure end to end: a kaspad that never reads slows the sender; nothing piles up -----
# A node "kaspad" that accepts and never reads; bridges A3/B3 in front of it; a writer pushes
# 300 MB of zeros at B3's endpoint for 8 s. Without backpressure the bridges would buffer
# what the writer sends (hundreds of MB); with it they hold at most the stream windows.
cat >"$WORK/blackhole.js" <<'JS'
const s = require("net").createServer((c) => { c.pause(); });
s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({event: "listening", port: s.address().port})));
JS
start_bg blackhole 60 node "$WORK/blackhole.js"
BH="$(wait_for 10 blackhole 'e.event === "listening"' 'e.port')"
start_bg bridgeA3 60 "$H" bridge --key "$WORK/a.key" --kaspad "127.0.0.1:$BH" \
  --listen /ip4/127.0.0.1/tcp/0 --peer "$IDB" --peer-port "$(free_port)" --log-format json
A3PID=$LAST_PID
A3ADDR="$(listen_addr bridgeA3)"
start_bg bridgeB3 60 "$H" bridge --key "$WORK/b.key" --kaspad 127.0.0.1:9 --listen /ip4/127.0.0.1/tcp/0 \
  --peer "$IDA,${A3ADDR%/p2p/*}" --peer-port "$(free_port)" --log-format json
B3PID=$LAST_PID
EP3="$(wait_for 10 bridgeB3 'e.event === "bridge_listen"' 'e.addr')"
wait_for 10 bridgeB3 'e.event === "bridge_peer_direct"' >/dev/null
# RSS of the bridge itself (start_bg's PID is the `timeout` in front of it).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "/proc/$1/task/$1/children" | cut -d' ' -f1)/status"; }
RA0="$(rss_kb "$A3PID")" RB0="$(rss_kb "$B3PID")"
timeout 8 head -c 300000000 /dev/zero >"/dev/tcp/${EP3%:*}/${EP3#*:}" 2>/dev/null || true
RA1="$(rss_kb "$A3PID")" RB1="$(rss_kb "$B3PID")"
log "RSS A3 ${RA0} -> ${RA1} kB, B3 ${RB0} -> ${RB1} kB while the writer was held back"
[ $((RA1 - RA0)) -lt 49152 ] || fail "bridge A3 grew by $((RA1 - RA0)) kB in front of a kaspad that does not read"
[ $((RB1 - RB0)) -lt 49152 ] || fail "bridge B3 grew by $((RB1 - RB0)) kB while its peer was congested"
expect bridgeA3 'e.event === "bridge_session_open"' "A3 opened the session to the kaspad that does not read"
log "ok: a kaspad that does not read holds the sender back; the bridges stay within the stream windows"
