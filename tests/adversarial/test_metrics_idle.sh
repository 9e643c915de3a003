#!/usr/bin/env bash
# Issue 9, metrics endpoint: 100 idle TCP connections to `--metrics-listen` (opened again as
# soon as the daemon closes them) kept /metrics from answering for 5 minutes and more. The
# endpoint has its own connection limits and short timeouts now: a scrape answers within a
# few seconds while the 100 are held, and right after they leave; and the refusals do not
# flood the daemon's log (libmicrohttpd wrote a line for each, straight to stderr).
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
command -v curl >/dev/null || fail "curl not found"
H="$HOLEPUNCH"
MAX_SCRAPE_S=3
HOLD_S=10

start_bg relay 50 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --log-format json --metrics-listen 127.0.0.1:0
RELAY_PID=$LAST_PID
MPORT="$(wait_for 10 relay 'e.event === "metrics_listening"' 'e.port')"

# scrape WHAT : /metrics must answer 200 with the relay's counters within MAX_SCRAPE_S.
scrape() {
  local t0 t1 code
  t0="$(date +%s%N)"
  code="$(curl -s -o "$WORK/metrics.txt" -w '%{http_code}' -m "$MAX_SCRAPE_S" \
    "http://127.0.0.1:$MPORT/metrics" || true)"
  t1="$(date +%s%N)"
  local ms=$(((t1 - t0) / 1000000))
  [ "$code" = 200 ] || fail "$1: /metrics gave '${code}' after ${ms} ms (limit ${MAX_SCRAPE_S} s)"
  grep -q '^holepunch_relay_connections_active ' "$WORK/metrics.txt" ||
    fail "$1: /metrics answered without the relay's counters"
  log "ok: $1: /metrics answered in ${ms} ms"
}
scrape "before the attack"

# attack NAME WHAT ARGS... : 100 idle connections held for HOLD_S (idle_conns.py ARGS),
# scraped four times while they are held (past the endpoint's idle timeout, so not only the
# first wave is seen) and once right after they leave. The attackers use 127.0.6.x and
# 127.0.7.x; the scraper is 127.0.0.1, as a Prometheus server is not the attacker's address.
attack() {
  local name="$1" what="$2" bytes0; shift 2
  bytes0="$(stat -c %s "$WORK/relay.err")"
  start_bg "$name" 40 python3 "$ADV_DIR/idle_conns.py" 127.0.0.1 "$MPORT" 100 "$HOLD_S" "$@"
  local pid=$LAST_PID
  wait_for 10 "$name" 'e.event === "idle_conns_open" && e.opened === 100' >/dev/null
  log "$what: 100 idle connections to the metrics port"
  for i in 1 2 3 4; do
    sleep 2
    scrape "$what, scrape $i while they are held"
  done
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "the idle client exited $rc"
  log "$what: $(jfirst "$name" 'e.event === "idle_conns"')"
  scrape "$what, right after"
  local grew=$(($(stat -c %s "$WORK/relay.err") - bytes0))
  [ "$grew" -le $((100 * 1024)) ] || fail "$what: the relay wrote $grew bytes of log (refusals not summarised)"
  log "ok: $what: the relay's log grew by $grew bytes"
}
attack one_ip "one address, reconnecting" --reconnect --from 127.0.6 1
attack many_ips "100 addresses, reconnecting" --reconnect --from 127.0.7 100
alive_or_fail "$RELAY_PID" relay
kill -TERM "$RELAY_PID"
RC=0
wait "$RELAY_PID" || RC=$?
[ "$RC" -eq 0 ] || fail "relay exited $RC after SIGTERM"
