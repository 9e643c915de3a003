#!/usr/bin/env bash
# Issue 9, log floods: connections refused by `holepunch relay --max-connections-per-ip 2`,
# for 10 s from 8 addresses. Each refusal used to write one connection_failed line (~190
# bytes; 23 MB in 30 s seen). Now the logger writes 10 a second per (event, reason) and
# counts the rest in log_suppressed lines: the log stays small, the lines written plus the
# suppressed counts add up to exactly the refusals the attacker saw, and a good client
# keeps reaching the relay during and after the flood.
set -euo pipefail
# shellcheck source=tests/adversarial/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"
ip -4 addr show lo 2>/dev/null | grep -q '127.0.0.1/8' || fail "loopback is not 127.0.0.1/8 (the flood needs 127.0.5.x)"
# LOG_REPEAT=0 measures the log without summaries (the size check then fails, by design).
REPEAT="${LOG_REPEAT:-10}"
FLOOD_SECS=10
MAX_LOG=$((200 * 1024))

start_bg relay 50 "$H" relay --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/relay.key" \
  --log-format json --max-connections-per-ip 2 --log-repeat "$REPEAT"
RELAY_PID=$LAST_PID
RELAY="$(listen_addr relay)"
PORT="$(echo "$RELAY" | sed -E 's|.*/tcp/([0-9]+)/.*|\1|')"
step keygen 10 "$H" keygen --key "$WORK/good.key"
step ping_before 20 "$H" ping "$RELAY" --count 1 --key "$WORK/good.key" --log-format json
BYTES0="$(stat -c %s "$WORK/relay.err")"
log "relay $RELAY, log $BYTES0 bytes before the flood"

start_bg flood 40 python3 "$ADV_DIR/conn_flood.py" 127.0.0.1 "$PORT" "$FLOOD_SECS" 127.0.5 8
FLOOD_PID=$LAST_PID
sleep 3
step ping_during 20 "$H" ping "$RELAY" --count 1 --key "$WORK/good.key" --log-format json
log "ok: a good client reaches the relay during the flood"
rc=0
wait "$FLOOD_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "the flood exited $rc"
log "flood: $(cat "$WORK/flood.out")"
REFUSED="$(jfirst "$WORK/flood.out" 'e.event === "conn_flood"' 'e.refused')"
[ "$REFUSED" -ge 2000 ] || fail "only $REFUSED connections refused: not a flood"
alive_or_fail "$RELAY_PID" relay
step ping_after 20 "$H" ping "$RELAY" --count 1 --key "$WORK/good.key" --log-format json
log "ok: a good client reaches the relay after the flood"
sleep 1.5 # the last interval ends and its summary is written (the relay's 1 s log tick)
BYTES1="$(stat -c %s "$WORK/relay.err")"
kill -TERM "$RELAY_PID"
RC=0
wait "$RELAY_PID" || RC=$?
[ "$RC" -eq 0 ] || fail "relay exited $RC after SIGTERM"

WHY='too many connections from this address'
WRITTEN="$(jcount relay "e.event === 'connection_failed' && e.reason === '$WHY'")"
SUPPRESSED="$(node -e '
const fs = require("fs");
let n = 0, lines = 0;
for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!l.startsWith("{")) continue;
  const e = JSON.parse(l);
  if (e.event === "log_suppressed" && e.suppressed_event === "connection_failed" &&
      e.reason === process.argv[2]) { n += e.count; lines++; }
}
console.log(n + " " + lines);' "$WORK/relay.err" "$WHY")"
read -r SUPPRESSED SUMMARIES <<<"$SUPPRESSED"
LOG_BYTES=$((BYTES1 - BYTES0))
log "refused $REFUSED; relay log: $WRITTEN connection_failed lines written, $SUPPRESSED suppressed in $SUMMARIES log_suppressed lines; $LOG_BYTES bytes of log during the flood"
[ $((WRITTEN + SUPPRESSED)) -eq "$REFUSED" ] ||
  fail "written $WRITTEN + suppressed $SUPPRESSED != $REFUSED refusals seen on the wire"
log "ok: every refusal is either written or counted in a summary"
[ "$LOG_BYTES" -le "$MAX_LOG" ] || fail "the flood wrote $LOG_BYTES bytes of log (limit $MAX_LOG)"
[ "$SUMMARIES" -ge $((FLOOD_SECS - 2)) ] && [ "$SUMMARIES" -le $((FLOOD_SECS + 4)) ] ||
  fail "$SUMMARIES summary lines for a ${FLOOD_SECS} s flood (want about one a second)"
log "ok: $LOG_BYTES bytes of log for $REFUSED refusals, one summary a second"
