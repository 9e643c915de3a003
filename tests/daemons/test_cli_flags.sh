#!/usr/bin/env bash
# The flag-table parser on real processes: "--flag=value" works like "--flag value" for the
# common flags and a command's own, a boolean takes "=false", and a bad or missing value
# exits non-zero at once with a message that names the flag and what it wants.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

LID="$(new_key l)"
new_key c >/dev/null

# A listener started with every common flag in the =value form.
start_bg listener 60 "$H" listen --listen=/ip4/127.0.0.1/tcp/0 --log-format=json \
  --log-level=info --log-redact=false --key="$WORK/l.key"
ADDR="$(listen_addr listener)"
[[ $ADDR == /ip4/127.0.0.1/tcp/*/p2p/$LID ]] || fail "listener address '$ADDR' (=value flags)"
log "ok: listen --listen=… --key=… --log-format=json --log-redact=false: $ADDR"

# A command flag in the =value form: exactly 3 pings.
step ping_eq 30 "$H" ping "$ADDR" --count=3 --log-format=json --key="$WORK/c.key"
N="$(jcount ping_eq "e.event === 'ping' && e.rtt_ms >= 0")"
[ "$N" -eq 3 ] || fail "ping --count=3 sent $N pings"
log "ok: ping --count=3 answered 3 times"

# The relay's own flags through the same table: =value forms reach the relay's config.
new_key r >/dev/null
start_bg relay 60 "$H" relay --listen=/ip4/127.0.0.1/tcp/0 --log-format=json --key="$WORK/r.key" \
  --circuit-data=64K --circuit-duration=90s --max-reservations=7 --reserve-rate-ip=10/1m \
  --max-connections=50 --stream-timeout=5s
wait_for 20 relay "e.event === 'relay_started'" >/dev/null
expect relay "e.event === 'relay_started' && e.circuit_data === 65536 && e.circuit_duration_s === 90 && e.max_reservations === 7" \
  "relay --circuit-data=64K --circuit-duration=90s --max-reservations=7 took effect"

# Bad and missing values: non-zero exit, the flag named, and what it wants.
bad() {
  local name="$1" want="$2"; shift 2
  step_fails "$name" 10 "$H" "$@"
  grep -q -- "$want" "$WORK/$name.err" || fail "$name: stderr lacks '$want': $(cat "$WORK/$name.err")"
  log "ok: $* -> $(head -n1 "$WORK/$name.err")"
}
bad bad_count "bad value 'abc' for --count" ping "$ADDR" --count=abc --key="$WORK/c.key"
bad bad_format "for --log-format: want human or json" ping "$ADDR" --log-format=xml
bad bad_bool "for --log-redact: want true or false" ping "$ADDR" --log-redact=maybe
bad no_value "--listen needs a value" ping "$ADDR" --listen
bad relay_rate "bad value '5' for --reserve-rate-ip: want BURST/DURATION" relay --reserve-rate-ip=5
bad relay_zero "bad value '0' for --max-connections" relay --max-connections=0
bad relay_dur "bad value 'soon' for --circuit-duration" relay --circuit-duration soon
