#!/usr/bin/env bash
# Kaspa session metrics of `holepunch server --metrics-listen` (and of the client): after two
# clients ran 3 pings each over plain TCP, holepunch_kaspa_sessions_ready_total and
# _ended_total agree with the server's kaspa_ready / kaspa_session_closed log lines; a server
# with only --kaspa-listen is healthy (200) once that listener is up.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

start_bg server 40 "$H" server --kaspa-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --log-format json --ping-interval 0
ADDR="$(wait_for 10 server 'e.event === "kaspa_listen"' 'e.addr')"
MPORT="$(wait_for 10 server 'e.event === "metrics_listening"' 'e.port')"
code=$(curl -s -o "$WORK/h.txt" -w '%{http_code}' "http://127.0.0.1:$MPORT/healthz")
[ "$code" = 200 ] || fail "healthz of a --kaspa-listen server: $code $(cat "$WORK/h.txt")"
log "ok: /healthz 200 for a server with only --kaspa-listen"

step c1 20 "$H" client --kaspa-connect "$ADDR" --log-format json --pings 3
step c2 20 "$H" client --kaspa-connect "$ADDR" --log-format json --pings 3
wait_for 5 server 'e.event === "kaspa_session_closed"' >/dev/null
sleep 0.5
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/m.txt" || fail "metrics endpoint did not answer"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$WORK/m.txt"; }
ready=$(metric holepunch_kaspa_sessions_ready_total)
log_ready=$(jcount server 'e.event === "kaspa_ready"')
[ "$ready" = "$log_ready" ] && [ "$ready" = 2 ] || fail "ready_total $ready, the log has $log_ready kaspa_ready"
ended=0
for r in clean timeout error connect_failed; do
  v=$(metric "holepunch_kaspa_sessions_ended_total{reason=\"$r\"}")
  [ -n "$v" ] || fail "no ended_total{reason=$r}"
  ended=$((ended + v))
done
log_closed=$(jcount server 'e.event === "kaspa_session_closed"')
[ "$ended" = "$log_closed" ] || fail "ended_total sums to $ended, the log has $log_closed kaspa_session_closed"
log "ok: Kaspa sessions: ready $ready, ended $ended (as in the log)"
