# shellcheck shell=bash
# Shared helpers for tests/adversarial/*.sh: the daemon helpers of tests/daemons/lib.sh
# (start_bg, wait_for, expect, ...) plus what attack tests measure. Source after
# `set -euo pipefail`.
ADV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/daemons/lib.sh
. "$ADV_DIR/../daemons/lib.sh"

# child_pid PID : the process that start_bg's `timeout` runs (the one to measure).
child_pid() {
  local c
  for _ in $(seq 50); do
    c="$(cat "/proc/$1/task/$1/children" 2>/dev/null || true)"
    [ -n "$c" ] && { echo "${c%% *}"; return 0; }
    sleep 0.1
  done
  fail "no child process under PID $1"
}

# proc_kib PID FIELD : a /proc/PID/status field in KiB (VmRSS, VmHWM), 0 once PID is gone.
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# alive_or_fail PID WHAT : fails with PID's exit status (141 = SIGPIPE) if it is gone.
alive_or_fail() {
  kill -0 "$1" 2>/dev/null && return 0
  local rc=0
  wait "$1" || rc=$?
  fail "$2 died (exit $rc)"
}

# good_kaspa_client NAME ADDR : a well-behaved client completes the handshake and one ping.
good_kaspa_client() {
  step "$1" 30 "$HOLEPUNCH" client --kaspa-connect "$2" --log-format json --pings 1
  expect "$1" 'e.event === "kaspa_ready"' "$1: a good client reaches Ready"
  expect "$1" 'e.event === "kaspa_pings_done" && e.answered === 1' "$1: its ping is answered"
}

# need_bench_relay : sets BR to bench/bench_relay (the hop/stop abuser) next to holepunch.
need_bench_relay() {
  BR="${BENCH_RELAY:-$(dirname "$HOLEPUNCH")/bench_relay}"
  [ -x "$BR" ] || fail "$BR not built (cmake --build BUILD --target bench_relay)"
}
