# shellcheck shell=bash
# Shared helpers for the hole-punch lab tests (tests/lab/test_punch_*.sh), bench/punch.sh
# and scripts/demo.sh: a natlab lab, a Circuit Relay v2 server in the relay namespace, a
# `holepunch listen` server behind NAT A, clients behind NAT B, and JSON-log queries.
#
# Source after `set -uo pipefail`. Variables (override before sourcing):
#   SRC_DIR, BUILD_DIR (default $SRC_DIR/build), HOLEPUNCH (default $BUILD_DIR/holepunch),
#   PUNCH_PREFIX (lab prefix, default pu<pid>), PUNCH_KEEP=1 keeps the work dir.
# Provides:
#   punch_need_root            SKIP (exit 0) when namespaces cannot be made
#   punch_need_holepunch       FAIL when the binary is missing
#   punch_lab_up ARGS...       natlab up --prefix $PL ARGS (also makes the keys)
#   punch_lab_down             natlab down (also done by the EXIT trap)
#   punch_bg NAME ROLE CMD...  CMD in namespace ROLE, output to $PW/NAME.log, pid in PIDS[NAME]
#   punch_start_relay [ARGS]   our relay (metrics on $RELAY_IP:9100); sets RELAY_MA
#   punch_start_js_relay       the js-libp2p relay instead; sets RELAY_MA
#   punch_start_server [ARGS]  `holepunch listen --relay` behind NAT A; waits for `reservation`
#   punch_client NAME SECS CMD ARGS...  `holepunch CMD <circuit addr> ARGS` behind NAT B (fg)
#   jfirst FILE EVENT [JQ-FILTER] [FIELD]  first matching event (or its FIELD), exit 1 if none
#   jcount FILE EVENT [JQ-FILTER]          number of matching events
#   jwait FILE EVENT SECS [JQ-FILTER]      wait until such an event is logged
#   relay_bytes                bytes the relay forwarded so far (both directions)
#   check WHAT CMD...          records ok/FAIL; punch_finish exits 1 if any check failed
# The EXIT trap kills only the processes started here (by pid), takes the lab down and, when
# something failed, prints the tail of every log.

SRC_DIR=${SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
export BUILD_DIR # natlab finds tapdelay there
HOLEPUNCH=${HOLEPUNCH:-$BUILD_DIR/holepunch}
NATLAB=$SRC_DIR/lab/natlab
PL=${PUNCH_PREFIX:-pu$$}
PW=$(mktemp -d "${TMPDIR:-/tmp}/punch.XXXXXX")
PNAME=$(basename "$0" .sh)
RELAY_IP=198.51.100.10
RA_PUB=198.51.100.2
RB_PUB=198.51.100.3
SRV_PORT=4001
CLI_PORT=4002
METRICS=$RELAY_IP:9100
declare -A PIDS=()
FAILS=0
PLAB_UP=0

plog() { echo "[$PNAME $(date +%T.%2N)] $*" >&2; }

punch_cleanup() {
  local rc=$? pid n
  for n in "${!PIDS[@]}"; do kill "${PIDS[$n]}" 2>/dev/null; done
  for n in "${!PIDS[@]}"; do
    pid=${PIDS[$n]}
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  ((PLAB_UP)) && "$NATLAB" down "$PL" >/dev/null 2>&1
  if ((rc != 0)) && [[ ${PUNCH_DUMP_LOGS:-1} == 1 ]]; then
    local f
    for f in "$PW"/*.log; do
      [[ -s $f ]] || continue
      echo "----- $(basename "$f") (last 30 lines) -----" >&2
      tail -n 30 "$f" >&2
    done
  fi
  [[ ${PUNCH_KEEP:-0} == 1 ]] && echo "logs kept in $PW" >&2 || rm -rf "$PW"
  exit "$rc"
}
trap punch_cleanup EXIT
trap 'exit 130' INT TERM

punch_need_root() {
  if [[ $EUID -ne 0 ]] || ! unshare --net true 2>/dev/null; then
    echo "SKIP: cannot create network namespaces (not root or no CAP_SYS_ADMIN)"
    exit 0
  fi
}

punch_need_holepunch() {
  [[ -x $HOLEPUNCH ]] || {
    echo "FAIL: $HOLEPUNCH not built (cmake --build … --target holepunch)"
    exit 1
  }
  command -v jq >/dev/null || {
    echo "FAIL: jq not found"
    exit 1
  }
}

check() {
  local what=$1
  shift
  if "$@" >/dev/null; then
    echo "ok   - $what"
  else
    echo "FAIL - $what"
    FAILS=$((FAILS + 1))
  fi
}

punch_finish() {
  if ((FAILS)); then
    echo "$PNAME: $FAILS check(s) failed"
    exit 1
  fi
  echo "$PNAME: PASSED"
  exit 0
}

# Ed25519 keys for the relay, the server and the client; peer IDs in RELAY_ID, SRV_ID, CLI_ID.
punch_keys() {
  local k
  for k in relay srv cli; do
    [[ -f $PW/$k.key ]] || "$HOLEPUNCH" keygen --key "$PW/$k.key" >"$PW/$k.id" || return 1
  done
  RELAY_ID=$(<"$PW/relay.id")
  SRV_ID=$(<"$PW/srv.id")
  CLI_ID=$(<"$PW/cli.id")
}

punch_lab_up() {
  punch_keys || return 1
  "$NATLAB" up --prefix "$PL" "$@" >/dev/null || return 1
  PLAB_UP=1
}

punch_lab_down() {
  local n
  for n in "${!PIDS[@]}"; do punch_stop "$n"; done
  ((PLAB_UP)) && "$NATLAB" down "$PL" >/dev/null 2>&1
  PLAB_UP=0
}

# punch_bg NAME ROLE CMD...: CMD runs in namespace ROLE (natlab exec replaces itself, so the
# pid is CMD's own).
# PUNCH_LOOPBACK=1 (scripts/demo.sh without namespaces): everything runs here, on loopback.
PUNCH_LOOPBACK=${PUNCH_LOOPBACK:-0}
punch_bg() {
  local name=$1 role=$2
  shift 2
  if ((PUNCH_LOOPBACK)); then
    "$@" >"$PW/$name.log" 2>&1 &
  else
    "$NATLAB" exec "$PL" "$role" -- "$@" >"$PW/$name.log" 2>&1 &
  fi
  PIDS[$name]=$!
}

# punch_stop NAME: SIGTERM, then SIGKILL after 1 s.
punch_stop() {
  local pid=${PIDS[$1]:-}
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "PIDS[$1]"
}

# jfirst FILE EVENT [FILTER] [FIELD]: FILTER is a jq boolean over the event object.
jfirst() {
  local f=$1 ev=$2 flt=${3:-true} field=${4:-}
  local out
  out=$(jq -cR --arg ev "$ev" "fromjson? | select(type == \"object\" and .event == \$ev and ($flt))" \
    <(grep '^{' "$f" 2>/dev/null) 2>/dev/null | head -n 1)
  [[ -n $out ]] || return 1
  if [[ -n $field ]]; then jq -r ".$field" <<<"$out"; else echo "$out"; fi
}

jcount() {
  local f=$1 ev=$2 flt=${3:-true}
  jq -cR --arg ev "$ev" "fromjson? | select(type == \"object\" and .event == \$ev and ($flt))" \
    <(grep '^{' "$f" 2>/dev/null) 2>/dev/null | wc -l
}

# jwait FILE EVENT SECS [FILTER]
jwait() {
  local f=$1 ev=$2 secs=$3 flt=${4:-true}
  local end=$((SECONDS + secs))
  while ((SECONDS <= end)); do
    jfirst "$f" "$ev" "$flt" >/dev/null && return 0
    sleep 0.05
  done
  return 1
}

punch_common_args() {
  echo --log-format json
}

# punch_start_relay [ARGS...]: our Circuit Relay v2 server with no data limit (the default
# 128 KiB per circuit would cut the pre-punch traffic of the echo tests) and metrics.
punch_start_relay() {
  punch_bg relay relay "$HOLEPUNCH" relay --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" \
    --key "$PW/relay.key" --log-format json --metrics-listen "$METRICS" --circuit-data 0 "$@"
  RELAY_MA=/ip4/$RELAY_IP/tcp/$SRV_PORT/p2p/$RELAY_ID
  jwait "$PW/relay.log" listening 10
}

# punch_start_js_relay: the js-libp2p relay (tests/interop/js/relay.mjs) with its defaults
# raised like ours; it prints its own peer ID.
punch_start_js_relay() {
  punch_bg relay relay node "$SRC_DIR/tests/interop/js/relay.mjs" \
    --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --limit-bytes 1073741824
  jwait "$PW/relay.log" listening 20 || return 1
  RELAY_ID=$(jfirst "$PW/relay.log" listening true peer)
  [[ -n $RELAY_ID && $RELAY_ID != null ]] || return 1
  RELAY_MA=/ip4/$RELAY_IP/tcp/$SRV_PORT/p2p/$RELAY_ID
}

# punch_start_server [ARGS...]: `holepunch listen` behind NAT A with a reservation.
punch_start_server() {
  punch_bg srv a "$HOLEPUNCH" listen --listen "/ip4/0.0.0.0/tcp/$SRV_PORT" --relay "$RELAY_MA" \
    --key "$PW/srv.key" --log-format json "$@"
  jwait "$PW/srv.log" reservation 15
}

circuit_addr() { echo "$RELAY_MA/p2p-circuit/p2p/$SRV_ID"; }

# punch_client NAME SECS CMD ARGS...: in the foreground (hard timeout SECS); returns CMD's rc.
punch_client() {
  local name=$1 secs=$2 cmd=$3
  shift 3
  timeout -k 2 "$secs" "$NATLAB" exec "$PL" b -- "$HOLEPUNCH" "$cmd" "$(circuit_addr)" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --key "$PW/cli.key" --log-format json "$@" \
    >"$PW/$name.log" 2>&1
}

# punch_client_bg NAME CMD ARGS...
punch_client_bg() {
  local name=$1 cmd=$2
  shift 2
  punch_bg "$name" b "$HOLEPUNCH" "$cmd" "$(circuit_addr)" \
    --listen "/ip4/0.0.0.0/tcp/$CLI_PORT" --key "$PW/cli.key" --log-format json "$@"
}

# relay_bytes: bytes our relay forwarded (both directions), from its Prometheus metrics.
relay_bytes() {
  local in_ns=("$NATLAB" exec "$PL" relay --)
  ((PUNCH_LOOPBACK)) && in_ns=()
  "${in_ns[@]}" curl -sf --max-time 2 "http://$METRICS/metrics" |
    awk '/^holepunch_relay_bytes_total/ { s += $2 } END { if (NR) printf "%d\n", s }'
}

# The direct connection's checks, shared by the eim/restricted/delay/js-relay tests.
# check_punched CLIENT_LOG: direct_connected on both sides, each naming the other router's
# public address (a punched connection's remote is the NAT mapping, never a LAN address).
check_punched() {
  local cl=$1
  check "server: direct_connected to the client" jwait "$PW/srv.log" direct_connected 10
  check "client: direct_connected to the server" jwait "$cl" direct_connected 10
  local sa ca
  sa=$(jfirst "$PW/srv.log" direct_connected true addr)
  ca=$(jfirst "$cl" direct_connected true addr)
  check "server's direct connection comes from router B ($sa)" \
    test "${sa%/tcp/*}" = "/ip4/$RB_PUB"
  check "client's direct connection goes to router A ($ca)" \
    test "${ca%/tcp/*}" = "/ip4/$RA_PUB"
  # A failed first attempt costs 10 s (handshake timeout) and is a bug here, not the NAT:
  # these NATs let the first SYNs through.
  check "punched on the first DCUtR attempt (server: attempt $(jfirst "$PW/srv.log" direct_connected true attempt))" \
    jfirst "$PW/srv.log" direct_connected '.attempt == 1'
  check "server: direct_connected names the client's peer ID" \
    test "$(jfirst "$PW/srv.log" direct_connected true peer)" = "$CLI_ID"
  check "client: direct_connected names the server's peer ID" \
    test "$(jfirst "$cl" direct_connected true peer)" = "$SRV_ID"
  check "one side is the Noise initiator, the other the responder" \
    test "$(jfirst "$PW/srv.log" direct_connected true role)" != "$(jfirst "$cl" direct_connected true role)"
}

# Does `holepunch CMD --help` offer OPTION?
hp_has_option() {
  "$HOLEPUNCH" "$1" --help 2>&1 | grep -q -- "$2"
}

# WAIT_DIRECT: the client option that holds the command until the punched connection is up
# (empty while the commands lack it).
WAIT_DIRECT=()
punch_detect_wait_direct() {
  WAIT_DIRECT=()
  if hp_has_option echo --wait-direct && hp_has_option ping --wait-direct; then
    WAIT_DIRECT=(--wait-direct 25000)
  fi
}

# punch_client_case KIND [TIMEOUT-S]: the client behind B runs `holepunch KIND` through the
# relay while DCUtR punches, then the punch checks. KIND echo: 64 concurrent 4 KiB streams +
# 8 MiB, every byte compared; KIND ping: 6 pings 400 ms apart (light traffic, so the RTT that
# DCUtR measures is the path's, not a queue's). With --wait-direct the echo must not cross
# the relay; without it the punch must complete while the client's streams are still
# running, and they must all survive the move.
punch_client_case() {
  local kind=$1 secs=${2:-40}
  punch_detect_wait_direct
  local b0 b1 log=$PW/$kind.log
  b0=$(relay_bytes)
  if [[ $kind == echo ]]; then
    check "echo: 64 concurrent streams + 8 MiB, all bytes match" \
      punch_client echo "$secs" echo --streams 64 --bytes 8M --timeout $((secs * 1000 - 5000)) \
      "${WAIT_DIRECT[@]}"
    check "echo_result ok with 64 streams" \
      jfirst "$log" echo_result '.ok == true and .streams == 64'
  else
    check "ping: 6 pings answered" \
      punch_client ping "$secs" ping --count 6 --interval 400 --timeout $((secs * 1000 - 5000)) \
      "${WAIT_DIRECT[@]}"
    check "ping: 6 ping events" test "$(jcount "$log" ping)" = 6
  fi
  check "client: the relayed connection came first (connected relayed=true)" \
    jfirst "$log" connected '.relayed == true'
  check_punched "$log"
  # B (the server) measures the RTT and always logs its attempt; A may be done before its own
  # dial (B's SYN reached A's listener first).
  check "server: dcutr_attempt logged with the measured RTT" \
    jfirst "$PW/srv.log" dcutr_attempt ".rtt_ms >= 0 and .peer == \"$CLI_ID\""
  MS_CLIENT=$(jfirst "$log" direct_connected true ms_since_relayed)
  MS_SERVER=$(jfirst "$PW/srv.log" direct_connected true ms_since_relayed)
  RTT_CLIENT=$(jfirst "$log" dcutr_attempt true rtt_ms)
  RTT_SERVER=$(jfirst "$PW/srv.log" dcutr_attempt true rtt_ms)
  echo "# relayed → direct: client ${MS_CLIENT} ms, server ${MS_SERVER} ms;" \
    "dcutr RTT client ${RTT_CLIENT} ms, server ${RTT_SERVER} ms"
  [[ -n $b0 ]] && b1=$(relay_bytes)
  if ((${#WAIT_DIRECT[@]})); then
    if [[ -n $b0 && $kind == echo ]]; then
      # 2 × (64 × 4 KiB + 8 MiB) = 17 MB went through the echo: none of it may cross the relay.
      check "echo ran over the direct connection (relay forwarded $((b1 - b0)) < 64 KiB)" \
        test $((b1 - b0)) -lt 65536
    fi
  else
    [[ -n $b0 ]] && echo "# relay forwarded $((b1 - b0)) bytes during the $kind run"
    echo "# GAP (not checked): $kind has no --wait-direct, so its streams were opened on the" \
      "relayed connection before the punch (the relay carried them)"
    local t_direct t_end
    t_direct=$(jfirst "$log" direct_connected true ts)
    if [[ $kind == echo ]]; then
      t_end=$(jfirst "$log" echo_result true ts)
    else
      t_end=$(jfirst "$log" ping '.seq == 6' ts)
    fi
    check "the punch completed while the $kind streams were running (direct at ${t_direct:-none} < end ${t_end:-none})" \
      test "${t_direct:-9999999999999}" -lt "${t_end:-0}"
  fi
}
