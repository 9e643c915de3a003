#!/usr/bin/env bash
# go-libp2p and we dial each other at the same moment, each from its listen port to a
# different address of the other (go listens on 127.0.0.1 and 127.0.0.3, we on 127.0.0.2,
# so both connections complete: no 4-tuple clash), and each opens streams on the connection
# its dial returned right away: go pings us on the connection it pinned, we ping go. We keep
# one connection per peer and close the duplicate gracefully (drain, then GoAway); go keeps
# both. No stream either side opened may be reset by that (issue 11 item 3, "close
# duplicates gracefully"). Rounds with different start offsets (go's --dial-at) vary who dials first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$INTEROP_DIR/go/peer.sh"
need_holepunch
need_gopeer

step gokey 20 "$GOPEER" id --key "$WORK/go.key"
GO_ID="$(peer_id_in "$WORK/gokey.out")"
step uskey 20 "$HOLEPUNCH" keygen --key "$WORK/us.key"
US_ID="$(peer_id_in "$WORK/uskey.out")"
[ -n "$GO_ID" ] && [ -n "$US_ID" ] || fail "no peer IDs"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dups=0
rounds=0
S=0.03 # our start-up (launch to listening and dialing), re-measured every round
E=0    # how late the launch is after the sleep that aims it, re-measured too
# Go listens at once and dials at T; we aim to listen and dial at T + gap (gap < 0: ours leaves
# first and go's dial leaves while ours is still in its handshake). A round where go's dial
# came before we listened (refused) did not test anything and is not counted.
for gap in -0.004 -0.002 -0.006 -0.003 -0.008 -0.004 -0.002 -0.006 -0.003 -0.01; do
  ((dups >= 2)) && break
  GP=$(port)
  UP=$(port)
  T=$(python3 -c 'import time; print(f"{time.time() + 1.5:.3f}")')
  offset=$(python3 -c "print(f'{$gap - $S - $E:.4f}')")
  start_bg "go_$rounds" 40 "$GOPEER" dial "/ip4/127.0.0.2/tcp/$UP/p2p/$US_ID" \
    --listen "/ip4/127.0.0.1/tcp/$GP" --listen "/ip4/127.0.0.3/tcp/$GP" --key "$WORK/go.key" \
    --streams 0 --pings 5 --timeout 30 --dial-at "$T" --linger 1.5
  gopid=$LAST_PID
  wait_for 10 "$WORK/go_$rounds.out" 'e.event==="listening"' >/dev/null
  python3 -c "import time; time.sleep(max(0.0, $T + ($offset) - time.time()))"
  launched=$(date +%s.%N)
  rc=0
  timeout -k 2 40 "$HOLEPUNCH" ping "/ip4/127.0.0.3/tcp/$GP/p2p/$GO_ID" \
    --listen "/ip4/127.0.0.2/tcp/$UP" --key "$WORK/us.key" --count 10 --interval 100 \
    --log-format json >"$WORK/us_$rounds.out" 2>"$WORK/us_$rounds.err" || rc=$?
  grc=0
  wait "$gopid" || grc=$?
  f=$(both "us_$rounds")
  lt=$(jq_first "$f" 'e.event==="listening"' 'e.ts' || echo 0)
  S=$(python3 -c "print(f'{$lt / 1000 - $launched:.4f}')")
  E=$(python3 -c "print(f'{$launched - ($T + ($offset)):.4f}')")
  n=$(grep -c '"event":"duplicate_connection"' "$f" || true)
  log "round $rounds: we listened and dialed at T$(python3 -c "print(f'{$lt / 1000 - $T:+.4f}')")s" \
    "(start-up ${S}s): our ping rc=$rc, go dial rc=$grc, our duplicate_connection lines: $n"
  if [ "$grc" -ne 0 ] && grep -q 'connection refused' "$WORK/go_$rounds.err"; then
    log "round $rounds: go dialed before we listened; not counted"
    continue
  fi
  rounds=$((rounds + 1))
  dups=$((dups + n))
  [ "$rc" -eq 0 ] || fail "our pings failed (round $rounds)"
  [ "$(grep -c '"event":"ping"' "$f")" -eq 10 ] || fail "10 pings answered by go (round $rounds)"
  [ "$grc" -eq 0 ] || fail "go's dial failed (round $rounds): $(tail -n 3 "$WORK/go_$((rounds - 1)).err")"
  expect "$WORK/go_$((rounds - 1)).out" 'e.event==="result" && e.ok && e.ping_ms.length===5' \
    "go pinged us 5 times on the connection its dial returned (round $rounds)"
done
log "$rounds rounds, $dups of them with two connections that we resolved"
((dups >= 1)) || fail "no round made two connections (the dials never overlapped)"
log "PASS"
