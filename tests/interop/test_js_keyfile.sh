#!/usr/bin/env bash
# Key files are interchangeable with js-libp2p (protobuf PrivateKey): for each key type js
# writes (Ed25519, secp256k1, RSA), `holepunch id --key` prints the peer ID js printed; a
# key holepunch writes reads back in js to the same peer ID; and js listening with our
# key announces our peer ID.
# (wip_: renamed to test_ once `holepunch keygen/id` exist.)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_holepunch

step js_keygen 30 node "$JS_KEY" keygen "$WORK/js_Ed25519.key" Ed25519 \
  "$WORK/js_secp256k1.key" secp256k1 "$WORK/js_RSA.key" RSA
for type in Ed25519 secp256k1 RSA; do
  want="$(jq_first "$WORK/js_keygen.out" "e.type===\"$type\"" 'e.peer')"
  step "hp_id_$type" 20 "$HOLEPUNCH" id --key "$WORK/js_$type.key"
  got="$(peer_id_in "$WORK/hp_id_$type.out")"
  [ "$got" = "$want" ] || fail "$type: js wrote a key for $want, holepunch id says '$got'"
  log "ok: $type key from js -> holepunch id $got"
done

step hp_keygen 20 "$HOLEPUNCH" keygen --key "$WORK/hp.key"
hpeer="$(peer_id_in "$WORK/hp_keygen.out")"
[ -n "$hpeer" ] || fail "holepunch keygen printed no peer ID"
step hp_id 20 "$HOLEPUNCH" id --key "$WORK/hp.key"
[ "$(peer_id_in "$WORK/hp_id.out")" = "$hpeer" ] || fail "holepunch id disagrees with holepunch keygen"
step js_id 20 node "$JS_KEY" id "$WORK/hp.key"
expect "$WORK/js_id.out" "e.event===\"key\" && e.peer===\"$hpeer\"" "key from holepunch -> js reads $hpeer"

start_bg js 30 node "$JS_PEER" listen --key "$WORK/hp.key"
wait_for 20 "$WORK/js.out" "e.event===\"listening\" && e.peer===\"$hpeer\" && e.addr.endsWith('/p2p/$hpeer')" >/dev/null
log "ok: js listens as $hpeer with the holepunch key"

# Negative: a file that is not a PrivateKey must be refused, not turned into some identity.
head -c 40 /dev/urandom >"$WORK/garbage.key"
rc=0
timeout -k 2 20 "$HOLEPUNCH" id --key "$WORK/garbage.key" >"$WORK/garbage.out" 2>"$WORK/garbage.err" || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
  fail "holepunch id accepted or hung on a garbage key file (rc=$rc)"
fi
log "ok: garbage key file refused (rc=$rc)"
log "PASS"
