# Shared helpers for tests/interop/*.sh. Source after `set -euo pipefail`.
# Provides: $INTEROP_DIR, $WORK (temp dir, removed at exit), start_bg, wait_for, jq_first,
# step (a command with a hard timeout), fail. The exit trap kills only the PIDs started
# through start_bg and prints their logs when the test failed.

INTEROP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC_DIR="${SRC_DIR:-$(cd "$INTEROP_DIR/../.." && pwd)}"
JSQ="$INTEROP_DIR/js/jsonq.mjs"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/interop.XXXXXX")"
STARTED_PIDS=()
LAST_PID=
TEST_NAME="$(basename "$0" .sh)"

command -v node >/dev/null || { echo "$TEST_NAME: node not found" >&2; exit 1; }
[ -d "$INTEROP_DIR/node_modules" ] || {
  echo "$TEST_NAME: $INTEROP_DIR/node_modules missing; run tests/interop/npm-ci.sh" >&2; exit 1; }

log() { echo "[$TEST_NAME $(date +%T.%2N)] $*" >&2; }

cleanup() {
  local rc=$?
  local pid
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]+"${STARTED_PIDS[@]}"}"; do
    # Give each process a moment to exit on SIGTERM, then make sure.
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
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

fail() { log "FAIL: $*"; exit 1; }

# start_bg NAME SECONDS CMD... : runs CMD in the background under a hard timeout, stdout to
# $WORK/NAME.out and stderr to $WORK/NAME.err; remembers its PID for the cleanup trap and
# leaves it in $LAST_PID.
start_bg() {
  local name="$1" secs="$2"; shift 2
  timeout -k 2 "$secs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
}

# step NAME SECONDS CMD... : runs CMD in the foreground under a hard timeout, stdout to
# $WORK/NAME.out, stderr to $WORK/NAME.err; fails the test if it fails or times out.
step() {
  local name="$1" secs="$2"; shift 2
  log "step $name: $*"
  local rc=0
  timeout -k 2 "$secs" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  [ "$rc" -eq 124 ] && fail "step $name timed out after ${secs}s"
  [ "$rc" -eq 0 ] || fail "step $name exited $rc"
}

# jq_first FILE PREDICATE [EXPR] : prints EXPR of the first JSON line matching PREDICATE
# (JavaScript, the line is `e`); returns 1 if there is none. See js/jsonq.mjs.
jq_first() { node "$JSQ" "$@"; }

# wait_for SECONDS FILE PREDICATE [EXPR] : polls until a matching JSON line appears in FILE
# and prints EXPR of it; fails the test on timeout.
wait_for() {
  local secs="$1"; shift
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if jq_first "$@"; then return 0; fi
    sleep 0.2
  done
  fail "no line matching ($2) in $(basename "$1") within ${secs}s"
}

# expect FILE PREDICATE WHAT : fails the test unless some JSON line in FILE matches.
expect() {
  jq_first "$1" "$2" >/dev/null || fail "$3 (no line matching ($2) in $(basename "$1"))"
  log "ok: $3"
}

# shellcheck disable=SC2034  # used by the tests that source this file
JS_PEER="$INTEROP_DIR/js/peer.mjs"
# shellcheck disable=SC2034
JS_RELAY="$INTEROP_DIR/js/relay.mjs"

# peer_id_in FILE : prints the first libp2p peer ID (base58: Ed25519 12D3KooW…, secp256k1
# 16Uiu2HA…, RSA Qm…) found in FILE; used for `holepunch keygen/id` output, plain or JSON.
peer_id_in() { grep -oE '(12D3KooW|16Uiu2HA|Qm)[1-9A-HJ-NP-Za-km-z]{20,}' "$1" | head -n1 || true; }

# need_holepunch : fails clearly unless $HOLEPUNCH is an executable (CTest sets it).
need_holepunch() {
  [ -n "${HOLEPUNCH:-}" ] || fail "HOLEPUNCH is not set (CTest sets it to the built binary)"
  [ -x "$HOLEPUNCH" ] || fail "HOLEPUNCH=$HOLEPUNCH is not an executable (build the holepunch target)"
}

# both NAME : concatenates $WORK/NAME.out and $WORK/NAME.err into $WORK/NAME.all and prints
# its path, for commands whose JSON events may go to either stream.
both() { cat "$WORK/$1.out" "$WORK/$1.err" >"$WORK/$1.all"; echo "$WORK/$1.all"; }
# shellcheck disable=SC2034
JS_KEY="$INTEROP_DIR/js/key.mjs"
