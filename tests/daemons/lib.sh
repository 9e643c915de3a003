# shellcheck shell=bash
# Shared helpers for tests/daemons/*.sh (real holepunch processes on loopback).
# Source after `set -euo pipefail`.
# Provides: $WORK (temp dir, removed at exit; also XDG_CONFIG_HOME so no test touches ~),
# log, fail, start_bg, step, step_fails, jfirst, jcount, wait_for, expect, listen_addr,
# need_holepunch. The exit trap kills only the PIDs started through start_bg and prints the
# logs of every process when the test failed.

# shellcheck disable=SC2034  # for the tests that source this file
DAEMONS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/daemons.XXXXXX")"
export XDG_CONFIG_HOME="$WORK/config"
STARTED_PIDS=()
LAST_PID=
TEST_NAME="$(basename "$0" .sh)"

command -v node >/dev/null || { echo "$TEST_NAME: node not found" >&2; exit 1; }

log() { echo "[$TEST_NAME $(date +%T.%2N)] $*" >&2; }

cleanup() {
  local rc=$?
  local pid
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    local f
    for f in "$WORK"/*.out "$WORK"/*.err; do
      [ -s "$f" ] || continue
      echo "----- $(basename "$f") (last 40 lines) -----" >&2
      tail -n 40 "$f" >&2
    done
    echo "[$TEST_NAME] FAILED (rc=$rc)" >&2
  else
    echo "[$TEST_NAME] PASSED" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

fail() { log "FAIL: $*"; exit 1; }

need_holepunch() {
  [ -n "${HOLEPUNCH:-}" ] || fail "HOLEPUNCH is not set (CTest sets it to the built binary)"
  [ -x "$HOLEPUNCH" ] || fail "HOLEPUNCH=$HOLEPUNCH is not an executable (build the holepunch target)"
}

# start_bg NAME SECONDS CMD... : CMD in the background under a hard timeout, stdout to
# $WORK/NAME.out, stderr to $WORK/NAME.err; its PID goes to the cleanup list and $LAST_PID.
# --foreground: a signal sent to $LAST_PID reaches CMD exactly once (without it, timeout
# forwards it to CMD and then to its whole process group, so CMD gets it twice and a
# graceful shutdown is cut short by the second one).
start_bg() {
  local name="$1" secs="$2"; shift 2
  timeout --foreground -k 2 "$secs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}

# step NAME SECONDS CMD... : CMD in the foreground under a hard timeout (output as above);
# the test fails if CMD fails or times out.
step() {
  local name="$1" secs="$2"; shift 2
  log "step $name: $*"
  local rc=0
  timeout -k 2 "$secs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  [ "$rc" -eq 124 ] && fail "step $name timed out after ${secs}s"
  [ "$rc" -eq 0 ] || fail "step $name exited $rc"
}

# step_fails NAME SECONDS CMD... : CMD must exit non-zero (not by timeout); its exit code is
# left in $STEP_RC.
step_fails() {
  local name="$1" secs="$2"; shift 2
  log "step $name (must fail): $*"
  STEP_RC=0
  timeout -k 2 "$secs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || STEP_RC=$?
  [ "$STEP_RC" -eq 124 ] && fail "step $name timed out after ${secs}s"
  [ "$STEP_RC" -ne 0 ] || fail "step $name succeeded but must fail"
}

# JSON lines: FILE may be a path or a step NAME (then $WORK/NAME.out and .err are both read:
# our commands log to stderr and print results to stdout). PREDICATE is JavaScript over the
# parsed line `e`; non-JSON lines are skipped.
_jfiles() {
  if [ -f "$1" ]; then echo "$1"; else echo "$WORK/$1.out" "$WORK/$1.err"; fi
}
_JQ='
const fs = require("fs");
const [mode, pred, expr, ...files] = process.argv.slice(1);
const test = new Function("e", "return (" + pred + ");");
const get = new Function("e", "return (" + (expr || "e") + ");");
let n = 0;
for (const f of files) {
  let text = "";
  try { text = fs.readFileSync(f, "utf8"); } catch (_) { continue; }
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let e;
    try { e = JSON.parse(line); } catch (_) { continue; }
    let ok = false;
    try { ok = test(e); } catch (_) {}
    if (!ok) continue;
    n++;
    if (mode === "first") {
      const v = get(e);
      console.log(typeof v === "string" ? v : JSON.stringify(v));
      process.exit(0);
    }
  }
}
if (mode === "count") { console.log(n); process.exit(0); }
process.exit(1);
'
# jfirst FILE PREDICATE [EXPR] : prints EXPR of the first matching line; returns 1 if none.
# shellcheck disable=SC2046
jfirst() { node -e "$_JQ" first "$2" "${3:-e}" $(_jfiles "$1"); }
# jcount FILE PREDICATE : prints how many lines match.
# shellcheck disable=SC2046
jcount() { node -e "$_JQ" count "$2" e $(_jfiles "$1"); }

# wait_for SECONDS FILE PREDICATE [EXPR] : polls until a matching line appears, prints EXPR
# of it; fails the test on timeout.
wait_for() {
  local secs="$1"; shift
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if jfirst "$@"; then return 0; fi
    sleep 0.1
  done
  fail "no line matching ($2) in $1 within ${secs}s"
}

# expect FILE PREDICATE WHAT : fails unless some line matches.
expect() {
  jfirst "$1" "$2" >/dev/null || fail "$3 (no line matching ($2) in $1)"
  log "ok: $3"
}

# listen_addr NAME [SECONDS] : waits for NAME's first `listening` event, prints its address.
listen_addr() {
  wait_for "${2:-10}" "$1" 'e.event === "listening"' 'e.addr'
}

# peer_id_in FILE : the first base58 peer ID in FILE (plain or JSON output).
peer_id_in() { grep -oE '12D3KooW[1-9A-HJ-NP-Za-km-z]{40,}' "$1" | head -n1 || true; }

# new_key NAME : writes $WORK/NAME.key with `holepunch keygen` and prints its peer ID.
new_key() {
  step "keygen_$1" 10 "$HOLEPUNCH" keygen --key "$WORK/$1.key"
  local id
  id="$(peer_id_in "$WORK/keygen_$1.out")"
  [ -n "$id" ] || fail "keygen $1 printed no peer ID"
  echo "$id"
}

# start_listener_bg NAME KEYNAME [SECONDS [-- extra listen args...]] : runs
# `holepunch listen --listen /ip4/127.0.0.1/tcp/0 --log-format json --key $WORK/KEYNAME.key`
# in the background (JSON log in $WORK/NAME.err), PID in $LAST_PID. Then
# ADDR="$(listen_addr NAME)" waits for its address (with /p2p).
start_listener_bg() {
  local name="$1" key="$2" secs="${3:-120}"
  shift 3 2>/dev/null || shift $#
  [ "${1:-}" = "--" ] && shift
  start_bg "$name" "$secs" "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --log-format json \
    --key "$WORK/$key.key" "$@"
}
