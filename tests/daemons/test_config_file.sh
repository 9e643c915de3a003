#!/usr/bin/env bash
# --config FILE / HOLEPUNCH_CONFIG: a listener runs from a config file alone; a flag on the
# command line beats the file (a list flag replaces the file's list); an environment variable
# beats the file; a bad line, an unknown key or a refused value exits 2 naming FILE:LINE.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

LID="$(new_key l)"

# listening_hosts NAME : the IPs NAME listens on, sorted, one per line.
listening_hosts() {
  grep -o '"event":"listening","addr":"/ip4/[0-9.]*' "$WORK/$1.err" | sed 's|.*/ip4/||' | sort
}

# 1. Everything from the file: addresses, key, log format, a switch and a comment.
cat >"$WORK/listen.conf" <<CONF
# a listener on loopback
listen = /ip4/127.0.0.1/tcp/0
listen = /ip4/127.0.0.2/tcp/0
key = $WORK/l.key
log-format = json   ; inline comment
no-perf = true
CONF
start_bg from_file 60 "$H" listen --config "$WORK/listen.conf"
ADDR="$(listen_addr from_file)"
[[ $ADDR == /ip4/127.0.0.1/tcp/*/p2p/$LID ]] || fail "listener address '$ADDR' (key from the file)"
wait_for 10 from_file 'e.event === "listening" && e.addr.startsWith("/ip4/127.0.0.2/")' 'e.addr' >/dev/null
log "ok: listen --config: both listen lines, the file's key: $ADDR"

# The file of a dialing command through HOLEPUNCH_CONFIG, with one of its own flags.
new_key c >/dev/null
printf 'count = 2\nlog-format = json\nkey = %s\n' "$WORK/c.key" >"$WORK/ping.conf"
HOLEPUNCH_CONFIG="$WORK/ping.conf" step ping_env_conf 30 "$H" ping "$ADDR"
N="$(jcount ping_env_conf "e.event === 'ping' && e.rtt_ms >= 0")"
[ "$N" -eq 2 ] || fail "ping with HOLEPUNCH_CONFIG (count = 2) sent $N pings"
log "ok: HOLEPUNCH_CONFIG with 'count = 2': 2 pings"
# 'no-perf = true' (a switch parsed by hand, given as a bare --no-perf) took effect.
expect ping_env_conf "e.event === 'identify' && e.protocols.includes('/echo/1.0.0') &&
  !e.protocols.includes('/perf/1.0.0')" "the file's 'no-perf = true' removed /perf/1.0.0"

# 2. A flag beats the file: one --listen replaces the file's two, --log-format overrides.
printf 'listen = /ip4/127.0.0.2/tcp/0\nlisten = /ip4/127.0.0.3/tcp/0\nlog-format = human\n' \
  >"$WORK/over.conf"
start_bg flag_wins 60 "$H" listen --config="$WORK/over.conf" --key "$WORK/l.key" \
  --listen /ip4/127.0.0.1/tcp/0 --log-format json
listen_addr flag_wins >/dev/null
sleep 0.3
[ "$(listening_hosts flag_wins)" = "127.0.0.1" ] ||
  fail "flag --listen did not replace the file's list: $(listening_hosts flag_wins | tr '\n' ' ')"
log "ok: --listen and --log-format on the command line beat the file"

# 3. The environment beats the file.
printf 'log-format = json\n' >>"$WORK/over.conf"
sed -i '/log-format = human/d' "$WORK/over.conf"
LIBP2P_LISTEN_MULTIADDRS=/ip4/127.0.0.1/tcp/0 start_bg env_wins 60 "$H" listen \
  --config "$WORK/over.conf" --key "$WORK/l.key"
listen_addr env_wins >/dev/null
sleep 0.3
[ "$(listening_hosts env_wins)" = "127.0.0.1" ] ||
  fail "LIBP2P_LISTEN_MULTIADDRS did not beat the file: $(listening_hosts env_wins | tr '\n' ' ')"
log "ok: LIBP2P_LISTEN_MULTIADDRS beats the file's listen lines"

# 4. Mistakes: exit 2, FILE:LINE, and what to write instead.
bad() {
  local name="$1" body="$2" want="$3"
  printf '%b' "$body" >"$WORK/$name.conf"
  step_fails "$name" 10 "$H" listen --config "$WORK/$name.conf" --key "$WORK/l.key"
  [ "$STEP_RC" -eq 2 ] || fail "$name exited $STEP_RC, want 2"
  grep -qF -- "$WORK/$name.conf:$want" "$WORK/$name.err" ||
    fail "$name: stderr lacks '$name.conf:$want': $(cat "$WORK/$name.err")"
  log "ok: $(head -n1 "$WORK/$name.err")"
}
bad bad_value '# levels\nlisten = /ip4/127.0.0.1/tcp/0\nlog-level = loud\n' \
  "3: 'log-level = loud': bad value 'loud' for --log-level: want debug, info, warn or error"
bad unknown_key 'listen = /ip4/127.0.0.1/tcp/0\n\nlisten-on = x\n' \
  "3: unknown key 'listen-on': the keys are the long flags of \`holepunch listen --help\`"
bad no_equals 'listen /ip4/127.0.0.1/tcp/0\n' "1: not 'name = value'"
bad dashes '--listen = /ip4/127.0.0.1/tcp/0\n' "1: write the flag's name without the leading dashes"
bad section '[relay]\nlisten = /ip4/127.0.0.1/tcp/0\n' "2: no [relay] sections"
bad help_key 'help = true\n' "1: 'help' is a command-line request, not a setting"
bad empty_value 'log-level =\n' "1: 'log-level =' has no value"
step_fails missing 10 "$H" listen --config "$WORK/nonexistent.conf"
[ "$STEP_RC" -eq 2 ] && grep -q "nonexistent.conf: No such file" "$WORK/missing.err" ||
  fail "a missing config file: rc $STEP_RC, $(cat "$WORK/missing.err")"
log "ok: $(cat "$WORK/missing.err")"
# A bad HOLEPUNCH_CONFIG does not stop --help.
HOLEPUNCH_CONFIG="$WORK/nonexistent.conf" step help_bad_env 10 "$H" listen --help
grep -q -- "--config FILE" "$WORK/help_bad_env.out" || fail "listen --help does not show --config"
log "ok: --help works with a broken HOLEPUNCH_CONFIG and lists --config"
