#!/usr/bin/env bash
# Mistakes fail at start, exit 2, with a message that says what to write instead; states that
# would otherwise look like weather (no --listen when punching, a wrong peer ID) say so.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
LID="$(new_key l)"
OTHER="$(new_key o)"

# must_fail NAME RC TEXT CMD... : CMD exits RC at once and its stderr has TEXT (fixed string).
must_fail() {
  local name="$1" rc="$2" want="$3"; shift 3
  step_fails "$name" 10 "$H" "$@"
  [ "$STEP_RC" -eq "$rc" ] || fail "$name exited $STEP_RC, want $rc: $(cat "$WORK/$name.err")"
  grep -qF -- "$want" "$WORK/$name.err" || fail "$name: stderr lacks '$want': $(cat "$WORK/$name.err")"
  log "ok: $* -> exit $STEP_RC: $(grep -F -- "$want" "$WORK/$name.err" | head -n1)"
}

must_fail relay_no_id 2 \
  "holepunch server: relay address '/ip4/127.0.0.1/tcp/4001' has no /p2p/<relay-id>: write /ip4/HOST/tcp/PORT/p2p/<relay-id>" \
  server --relay /ip4/127.0.0.1/tcp/4001 --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/l.key"
must_fail relay_bad 2 "holepunch server: bad --relay '/ip4/999.0.0.1/tcp/4001/p2p/$OTHER': write /ip4/HOST/tcp/PORT/p2p/<relay-id>" \
  server --relay "/ip4/999.0.0.1/tcp/4001/p2p/$OTHER" --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/l.key"
must_fail listen_relay_no_id 2 "has no /p2p/<relay-id>" \
  listen --relay /ip4/127.0.0.1/tcp/4001 --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/l.key"
must_fail network 2 \
  "bad value 'kaspa-tesnet-10' for --network: want kaspa-mainnet, kaspa-testnet-N (e.g. kaspa-testnet-10), kaspa-devnet or kaspa-simnet (or --testnet --netsuffix=10)" \
  server --network kaspa-tesnet-10 --kaspa-listen 127.0.0.1:0
must_fail netsuffix 2 "holepunch client: --testnet needs --netsuffix N" \
  client --testnet --kaspa-connect 127.0.0.1:1
must_fail kaspa_listen 2 "holepunch server: --kaspa-listen 47111: expected HOST:PORT, e.g. 0.0.0.0:47111" \
  server --kaspa-listen 47111
must_fail kaspa_connect 2 "holepunch client: --kaspa-connect localhost: expected HOST:PORT, e.g. 127.0.0.1:16111" \
  client --kaspa-connect localhost

# Punching without --listen: a warning at start, before anything else goes wrong.
HINT="no --listen: the NAT mapping the relay observes is not your listen port, hole punching will likely fail; add --listen /ip4/0.0.0.0/tcp/PORT"
step_fails ping_circuit 20 "$H" ping "/ip4/127.0.0.1/tcp/1/p2p/$OTHER/p2p-circuit/p2p/$LID" \
  --timeout 3s --log-format json
expect ping_circuit "e.event === 'no_listen' && e.level === 'warn' && e.hint === '$HINT'" \
  "ping through a relay without --listen warns"
start_bg client_nolisten 20 "$H" client --peer "$LID" \
  --remote "/ip4/127.0.0.1/tcp/1/p2p/$OTHER/p2p-circuit" --log-format json
wait_for 10 client_nolisten "e.event === 'no_listen' && e.hint === '$HINT'" >/dev/null
log "ok: client without --listen warns"

# A wrong peer ID dialed directly: the error names the ID that answered.
start_bg listener 30 "$H" listen --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/l.key" --log-format json
ADDR="$(listen_addr listener)"
WRONG="${ADDR%/p2p/*}/p2p/$OTHER"
step_fails wrong_id 20 "$H" ping "$WRONG" --timeout 5s --log-format json
expect wrong_id "e.event === 'noise_error' && e.reason === 'remote key does not match the dialed peer ID: $LID answered'" \
  "a key mismatch names the ID that answered ($LID)"

# A peer ID that holds no reservation: after --no-reservation-after one clear line, then a
# slow retry (every minute), not "not there yet" forever.
new_key r >/dev/null
start_bg relay 40 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/r.key" --log-format json
RELAY="$(listen_addr relay)"
start_bg nores 40 "$H" client --peer "$OTHER" --remote "$RELAY/p2p-circuit" \
  --listen /ip4/127.0.0.1/tcp/0 --no-reservation-after=2s --log-format json
wait_for 20 nores "e.event === 'kaspa_server_unknown' && e.reason === 'no peer with this ID holds a reservation on this relay: check the ID and that the server runs'" >/dev/null
wait_for 10 nores "e.event === 'kaspa_reconnect' && e.in_ms === 60000" >/dev/null
[ "$(jcount nores "e.event === 'kaspa_server_unknown'")" -eq 1 ] || fail "kaspa_server_unknown said more than once"
log "ok: NO_RESERVATION for 2s -> kaspa_server_unknown once, then a retry every 60s"
log "PASS"
