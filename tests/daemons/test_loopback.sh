#!/usr/bin/env bash
# Real holepunch processes on 127.0.0.1: keygen/id, a listener, then ping, echo (64 streams
# and 16 MiB) and perf (8 MiB each way) against it, asserting on the JSON events of both
# sides; listen on an unsupported address, two --listen addresses, LIBP2P_LISTEN_MULTIADDRS.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

# ---- keys: keygen prints the ID, id prints the same, keygen never overwrites ------------
step keygen1 10 "$H" keygen --key "$WORK/k1.key"
ID1="$(peer_id_in "$WORK/keygen1.out")"
[ -n "$ID1" ] || fail "keygen printed no peer ID"
[ "$(stat -c %a "$WORK/k1.key")" = 600 ] || fail "key file mode is $(stat -c %a "$WORK/k1.key"), want 600"
step id1 10 "$H" id --key "$WORK/k1.key"
[ "$(peer_id_in "$WORK/id1.out")" = "$ID1" ] || fail "id printed $(cat "$WORK/id1.out"), keygen $ID1"
cp "$WORK/k1.key" "$WORK/k1.copy"
step_fails keygen_again 10 "$H" keygen --key "$WORK/k1.key"
cmp -s "$WORK/k1.key" "$WORK/k1.copy" || fail "keygen overwrote an existing key file"
grep -qi "exists" "$WORK/keygen_again.err" || fail "keygen refusal does not say the file exists"
log "ok: keygen/id agree on $ID1; keygen refuses to overwrite"

# id on a corrupt file: clear message, non-zero exit, file untouched.
printf 'this is not a key\n' >"$WORK/bad.key"
chmod 600 "$WORK/bad.key"
cp "$WORK/bad.key" "$WORK/bad.copy"
step_fails id_bad 10 "$H" id --key "$WORK/bad.key"
grep -qi "corrupt" "$WORK/id_bad.err" || fail "id on a corrupt key does not say so: $(cat "$WORK/id_bad.err")"
cmp -s "$WORK/bad.key" "$WORK/bad.copy" || fail "id modified a corrupt key file"
# listen with that key must refuse too, and not replace the file with a new key.
step_fails listen_badkey 10 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/bad.key"
cmp -s "$WORK/bad.key" "$WORK/bad.copy" || fail "listen replaced a corrupt key file"
log "ok: corrupt key file refused and left unchanged"

# ---- a listener and three clients ------------------------------------------------------
start_bg listener 60 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --log-format json --key "$WORK/k1.key"
LPID=$LAST_PID
ADDR="$(listen_addr listener)"
case "$ADDR" in
  /ip4/127.0.0.1/tcp/*/p2p/"$ID1") ;;
  *) fail "listening address $ADDR is not /ip4/127.0.0.1/tcp/PORT/p2p/$ID1" ;;
esac
log "listener at $ADDR"

step keygen2 10 "$H" keygen --key "$WORK/k2.key"
ID2="$(peer_id_in "$WORK/keygen2.out")"

step ping 30 "$H" ping "$ADDR" --count 3 --interval 50 --log-format json --key "$WORK/k2.key"
[ "$(jcount ping 'e.event === "ping" && e.rtt_ms > 0')" = 3 ] || fail "ping: want 3 ping events with rtt_ms > 0"
expect ping "e.event === 'connected' && e.peer === '$ID1' && e.direction === 'outbound'" \
  "ping: connected outbound to $ID1"
expect ping "e.event === 'identify' && e.peer === '$ID1' && /^kaspa-holepunch\\//.test(e.agent) \
  && e.protocols.includes('/echo/1.0.0') && e.protocols.includes('/perf/1.0.0') \
  && e.protocols.includes('/ipfs/ping/1.0.0') && /^\\/ip4\\/127\\.0\\.0\\.1\\/tcp\\/[0-9]+$/.test(e.observed)" \
  "ping: identify of the listener (agent, protocols, observed address)"
PING_OBS="$(jfirst ping 'e.event === "identify"' 'e.observed')"
# The listener saw the dialer at the address it told the dialer (identify's observed addr).
wait_for 5 listener "e.event === 'connected' && e.peer === '$ID2' && e.direction === 'inbound'" \
  'e.addr' >"$WORK/inbound_addr"
[ "$(cat "$WORK/inbound_addr")" = "$PING_OBS" ] ||
  fail "listener saw the dialer at $(cat "$WORK/inbound_addr"), told it $PING_OBS"
wait_for 5 listener "e.event === 'identify' && e.peer === '$ID2'" >/dev/null
wait_for 5 listener "e.event === 'disconnected' && e.peer === '$ID2' && e.reason" >/dev/null
log "ok: ping 3/3, identify both ways, listener logged connect/identify/disconnect"

step echo 50 "$H" echo "$ADDR" --streams 64 --bytes 16M --log-format json --key "$WORK/k2.key"
expect echo "e.event === 'echo_result' && e.ok === true && e.streams === 64 \
  && e.bytes === 16777216 && e.failures === 0" "echo: 64 streams and 16 MiB echoed intact"

step perf 50 "$H" perf "$ADDR" --upload 8M --download 8M --log-format json --key "$WORK/k2.key"
expect perf "e.event === 'perf' && e.peer === '$ID1' && e.upload_bytes === 8388608 \
  && e.download_bytes === 8388608 && e.upload_mbps > 0 && e.download_mbps > 0" \
  "perf: 8 MiB up and 8 MiB down"

# A dial that names another peer ID must fail and say why.
step keygen3 10 "$H" keygen --key "$WORK/k3.key"
ID3="$(peer_id_in "$WORK/keygen3.out")"
WRONG="${ADDR%/p2p/*}/p2p/$ID3"
step_fails ping_wrong_id 20 "$H" ping "$WRONG" --count 1 --log-format json --key "$WORK/k2.key"
expect ping_wrong_id "e.event === 'connection_failed' && e.error === 'PEER_ID_MISMATCH' && e.reason" \
  "ping to the right address with the wrong /p2p ID fails with PEER_ID_MISMATCH"

# The listener survived all of it and still answers.
kill -0 "$LPID" 2>/dev/null || fail "listener died"
step ping_after 30 "$H" ping "$ADDR" --count 1 --interval 10 --log-format json --key "$WORK/k2.key"
[ "$(jcount ping_after 'e.event === "ping"')" = 1 ] || fail "ping after the other clients failed"

# SIGTERM: the listener shuts down cleanly (exit 0, `shutdown` logged; ASan builds would
# report leaks through a non-zero exit).
kill -TERM "$LPID"
LRC=0
wait "$LPID" || LRC=$?
[ "$LRC" -eq 0 ] || fail "listener exited $LRC after SIGTERM"
expect listener 'e.event === "shutdown"' "listener logged shutdown and exited 0"

# ---- listen: unsupported address, two addresses, environment ----------------------------
step_fails listen_udp 10 "$H" listen --listen /ip4/127.0.0.1/udp/1 --log-format json --key "$WORK/k1.key"
expect listen_udp "e.event === 'listen_failed' && e.addr === '/ip4/127.0.0.1/udp/1' && e.reason" \
  "listen on /udp fails with a listen_failed event naming the reason"
grep -q "could not listen" "$WORK/listen_udp.err" || fail "listen on udp: no clear message"

start_bg two 30 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --listen /ip4/127.0.0.2/tcp/0 \
  --log-format json --key "$WORK/k1.key"
wait_for 10 two "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.2/')" >/dev/null
A1="$(jfirst two "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.1/')" 'e.addr')" ||
  fail "two: no listener on 127.0.0.1"
A2="$(jfirst two "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.2/')" 'e.addr')"
step ping_two_1 20 "$H" ping "$A1" --count 1 --interval 10 --log-format json --key "$WORK/k2.key"
step ping_two_2 20 "$H" ping "$A2" --count 1 --interval 10 --log-format json --key "$WORK/k2.key"
[ "$(jcount ping_two_1 'e.event === "ping"')" = 1 ] || fail "no ping via $A1"
[ "$(jcount ping_two_2 'e.event === "ping"')" = 1 ] || fail "no ping via $A2"
expect ping_two_2 "e.event === 'identify' && /^\\/ip4\\/127\\./.test(e.observed)" \
  "dialing 127.0.0.2 works; identify reports an observed address"
log "ok: one process listening on $A1 and $A2"

start_bg envlisten 30 env "LIBP2P_LISTEN_MULTIADDRS=/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.3/tcp/0" \
  "$H" listen --log-format json --key "$WORK/k1.key"
wait_for 10 envlisten "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.3/')" >/dev/null
wait_for 10 envlisten "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.1/')" >/dev/null
E3="$(jfirst envlisten "e.event === 'listening' && e.addr.startsWith('/ip4/127.0.0.3/')" 'e.addr')"
step ping_env 20 "$H" ping "$E3" --count 1 --interval 10 --log-format json --key "$WORK/k2.key"
[ "$(jcount ping_env 'e.event === "ping"')" = 1 ] || fail "no ping via $E3"
log "ok: LIBP2P_LISTEN_MULTIADDRS honoured ($E3)"

# Without any address the listener refuses to start with a usage message.
step_fails listen_none 10 env -u LIBP2P_LISTEN_MULTIADDRS "$H" listen --key "$WORK/k1.key"
grep -q "listen" "$WORK/listen_none.err" || fail "listen without addresses: no message"
