#!/usr/bin/env bash
# SIGHUP reopens --log-file (logrotate: the next line lands in the new file) and reloads the
# logging settings from the config file: a changed log-level applies, a bad value keeps the
# old settings and says why, and a flag given on the command line still wins.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
command -v pgrep >/dev/null || fail "pgrep not found (procps)"
H="$HOLEPUNCH"
new_key l >/dev/null
new_key c >/dev/null
child_of() { pgrep -P "$1" | head -n1; }
CONF="$WORK/listen.conf"
LOGF="$WORK/daemon.log"
printf 'log-level = info\nlog-format = json\n' >"$CONF"

start_bg listener 60 "$H" listen --config "$CONF" --log-file "$LOGF" --listen /ip4/127.0.0.1/tcp/0 \
  --key "$WORK/l.key"
PID=$LAST_PID
ADDR="$(wait_for 15 "$LOGF" 'e.event === "listening"' e.addr)"
for _ in $(seq 20); do LPID="$(child_of "$PID")"; [ -n "$LPID" ] && break; sleep 0.1; done
[ -n "$LPID" ] || fail "no holepunch process under timeout"
[ ! -s "$WORK/listener.err" ] || fail "log lines went to stderr despite --log-file: $(cat "$WORK/listener.err")"
log "ok: the log goes to --log-file"

# logrotate: move the file away, SIGHUP, the next line is in a new file at the same path.
mv "$LOGF" "$LOGF.1"
kill -HUP "$LPID"
wait_for 10 "$LOGF" 'e.event === "sighup" && e.log_file === "reopened" && e.config === "reloaded"' >/dev/null
jfirst "$LOGF.1" 'e.event === "sighup"' >/dev/null && fail "the sighup line went to the rotated file"
log "ok: after mv + SIGHUP the log is written to a new $LOGF"

# A reloadable setting: json -> human takes effect at once.
step ping1 30 "$H" ping "$ADDR" --count 1 --key "$WORK/c.key"
sleep 0.3
grep -qE ' info +' "$LOGF" && fail "human lines while log-format is json"
printf 'log-level = info\nlog-format = human\n' >"$CONF"
kill -HUP "$LPID"
for _ in $(seq 50); do grep -qE ' info +sighup .*config=reloaded' "$LOGF" && break; sleep 0.1; done
grep -qE ' info +sighup .*config=reloaded' "$LOGF" || fail "no human sighup line after log-format = human: $(tail -n3 "$LOGF")"
step ping2 30 "$H" ping "$ADDR" --count 1 --key "$WORK/c.key"
for _ in $(seq 50); do grep -qE ' info +connected ' "$LOGF" && break; sleep 0.1; done
grep -qE ' info +connected ' "$LOGF" || fail "the next connection was not logged in human format"
log "ok: log-format = human in the file + SIGHUP -> human lines"

# A bad file keeps the old settings and logs why.
printf 'log-level = loud\nlog-format = json\n' >"$CONF"
kill -HUP "$LPID"
for _ in $(seq 50); do grep -q "config=kept reason=.*bad value 'loud' for log-level" "$LOGF" && break; sleep 0.1; done
grep -q "config=kept reason=.*bad value 'loud' for log-level" "$LOGF" ||
  fail "a bad file did not keep the old (human) settings with a reason: $(tail -n3 "$LOGF")"
kill -0 "$LPID" || fail "the listener died of a bad config file"
log "ok: a bad value keeps the old settings: $(grep 'config=kept' "$LOGF" | head -n1)"

# The command line wins over the file on reload too.
LOG2="$WORK/d2.log"
printf 'log-format = human\n' >"$CONF"
start_bg l2 60 "$H" listen --config "$CONF" --log-format json --log-file "$LOG2" \
  --listen /ip4/127.0.0.1/tcp/0 --key "$WORK/l.key"
P2=$LAST_PID
wait_for 15 "$LOG2" 'e.event === "listening"' >/dev/null
L2="$(child_of "$P2")"
kill -HUP "$L2"
wait_for 10 "$LOG2" 'e.event === "sighup" && e.config === "reloaded"' >/dev/null
grep -qE ' info +' "$LOG2" && fail "--log-format json on the command line lost to the file on SIGHUP"
log "ok: --log-format json on the command line still wins after SIGHUP"
log "PASS"
