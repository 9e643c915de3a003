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
