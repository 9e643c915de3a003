#!/usr/bin/env bash
# Kaspa P2P over a direct libp2p connection (TCP + Noise + Yamux, /kaspad/transport/1.0.0)
# versus plain TCP gRPC (what stock kaspad speaks on 16111), same server process, loopback.
#
#   bash bench/kaspa.sh [BUILD_DIR] [--runs N] [--burst SIZE] [--gzip-burst SIZE]
#                       [--pings N] [--inmem-mib N] [--out FILE]
#     BUILD_DIR     default build/release (holepunch; bench_kaspa for the in-memory part)
#     --runs        runs, each measuring everything once, libp2p and TCP back to back (3)
#     --burst       bytes per burst without gzip (default 256M)
#     --gzip-burst  bytes per burst with gzip, the Kaspa default (default 64M)
#     --pings       Ping/Pong rounds per ping run (default 20000)
#     --inmem-mib   MiB for bench_kaspa's in-memory throughput (default 64; 0 = skip)
#     --out         default bench/results/kaspa.json
#
# Per run:
#   burst   `kaspa_load --burst SIZE --no-gzip` to the server's libp2p address: 64 KiB
#           KaspadMessages (65,540 bytes each, random payload) as fast as the stream takes
#           them; the client's timer ends at the Pong of a Ping sent after the last one, so
#           every byte was read by the server. MB/s and messages/s. The same over plain TCP
#           (--kaspa-connect to --kaspa-listen, same backpressure: at most ~1 MiB in the
#           socket and 1 MiB in the HTTP/2 queue); ratio libp2p/TCP.
#   gzip    the same with gzip on (the default, as kaspad): bound by deflate, not transport;
#           libp2p and TCP.
#   pings   `--pings N`, one Ping in flight at a time (Ping → Pong = 2 small messages), over
#           libp2p and over TCP (--kaspa-connect to --kaspa-listen); rounds/s from the
#           client's kaspa_ready to kaspa_pings_done timestamps; ratio libp2p/TCP.
#   ready   kaspa_ready.ms_since_start: connect + (libp2p: Noise, Yamux, stream) + handshake.
# Each libp2p client has a fresh identity (one connection per peer on the server).
# Figures are medians over the runs. The machine is shared: load average is recorded.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$HERE/.." && pwd)
RUNS=3
BURST=256M
GZIP_BURST=64M
PINGS=20000
INMEM_MIB=64
OUT=$SRC_DIR/bench/results/kaspa.json
build=build/release
while (($#)); do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --burst) BURST=$2; shift 2 ;;
  --gzip-burst) GZIP_BURST=$2; shift 2 ;;
  --pings) PINGS=$2; shift 2 ;;
  --inmem-mib) INMEM_MIB=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
  -*) echo "kaspa.sh: unknown option $1" >&2; exit 2 ;;
  *) build=$1; shift ;;
  esac
done
case $build in /*) ;; *) build=$SRC_DIR/$build ;; esac
H=$build/holepunch
LOAD=$build/kaspa_load # bench/kaspa_load.c: --burst
[[ -x $H ]] || { echo "kaspa.sh: $H not built" >&2; exit 1; }
command -v jq >/dev/null || { echo "kaspa.sh: jq not found" >&2; exit 1; }
BURST_MSG=65540 # KaspadMessage{field 4: 64 KiB}: tag 1 + length varint 3 + 65536

W=$(mktemp -d "${TMPDIR:-/tmp}/kaspabench.XXXXXX")
SRV_PID=
cleanup() {
  local rc=$?
  if [[ -n $SRV_PID ]]; then
    kill "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
  fi
  if ((rc != 0)); then
    for f in "$W"/*.log; do [[ -s $f ]] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }; done
  fi
  rm -rf "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "kaspa.sh: $*" >&2; exit 1; }

# ev FILE EVENT FIELD: FIELD of the first EVENT in FILE.
ev() {
  jq -rR --arg e "$2" "fromjson? | select(type == \"object\" and .event == \$e) | .$3" \
    <(grep '^{' "$1") | head -n 1
}

"$H" keygen --key "$W/srv.key" >"$W/srv.id" || die "keygen failed"
SRV_ID=$(<"$W/srv.id")
"$H" server --listen /ip4/127.0.0.1/tcp/0 --kaspa-listen 127.0.0.1:0 --key "$W/srv.key" \
  --log-format json >"$W/srv.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 100); do
  [[ -n $(ev "$W/srv.log" listening addr) && -n $(ev "$W/srv.log" kaspa_listen addr) ]] && break
  sleep 0.05
done
MA=$(ev "$W/srv.log" listening addr)
TCP=$(ev "$W/srv.log" kaspa_listen addr)
[[ -n $MA && -n $TCP ]] || die "server did not start"
MA=${MA%/p2p/*}
echo "# server $SRV_ID: libp2p $MA, TCP $TCP" >&2

n=0
# client_cmd ARGS...: CLIENT=(kaspa_load) for a --burst, else CLIENT=(holepunch client).
client_cmd() {
  CLIENT=("$H" client)
  case " $* " in *" --burst "*) CLIENT=("$LOAD") ;; esac
}
# libp2p NAME ARGS...: a client with a fresh key to the libp2p address; log in $W/NAME.log.
libp2p() {
  local name=$1
  shift
  n=$((n + 1))
  "$H" keygen --key "$W/c$n.key" >/dev/null || return 1
  client_cmd "$@"
  timeout -k 2 120 "${CLIENT[@]}" --peer "$SRV_ID" --remote "$MA" --key "$W/c$n.key" \
    --log-format json --ping-interval 0 "$@" >"$W/$name.log" 2>&1
}
tcp() {
  local name=$1
  shift
  client_cmd "$@"
  timeout -k 2 120 "${CLIENT[@]}" --kaspa-connect "$TCP" --log-format json --ping-interval 0 "$@" \
    >"$W/$name.log" 2>&1
}
# burst_sample FILE -> {mb_per_s, msgs_per_s, seconds, bytes}
burst_sample() {
  jq -cR --argjson m $BURST_MSG 'fromjson? | select(type == "object" and .event == "kaspa_burst")
    | {bytes, seconds, mb_per_s, msgs_per_s: ((.bytes / $m) / .seconds)}' <(grep '^{' "$1") | head -n 1
}
# ping_sample FILE -> {rounds, ms, rounds_per_s, ready_ms}
ping_sample() {
  local r d s
  r=$(ev "$1" kaspa_ready ts)
  d=$(ev "$1" kaspa_pings_done ts)
  s=$(ev "$1" kaspa_ready ms_since_start)
  [[ -n $r && -n $d && $(ev "$1" kaspa_pings_done answered) == "$PINGS" ]] || return 1
  jq -nc --argjson n "$PINGS" --argjson ms $((d - r)) --argjson ready "$s" \
    '{rounds: $n, ms: $ms, rounds_per_s: (if $ms > 0 then $n * 1000 / $ms else null end), ready_ms: $ready}'
}

SAMPLES=$W/samples.jsonl
: >"$SAMPLES"
# Bursts that ended with the session failing. Known cause (2026-11-25): the server closes
# with "malformed message" (DECODE) in some fast --no-gzip bursts because the client's
# kaspa_stream move_out is re-entered from lp2p_stream_write (the host calls on_writable
# synchronously when its pump drains the stream below the low-water mark), so one chunk of
# session output is written twice and the next one never. Not seen with gzip (20-30 MB/s).
FAILED_BURSTS=0
for run in $(seq "$RUNS"); do
  # A burst that fails (see FAILED_BURSTS above) is counted and retried, up to 5 times.
  for _ in 1 2 3 4 5; do
    libp2p "burst$run" --burst "$BURST" --no-gzip && break
    FAILED_BURSTS=$((FAILED_BURSTS + 1))
    echo "# run $run: burst failed: $(ev "$W/burst$run.log" kaspa_session_failed reason)" >&2
  done
  for _ in 1 2 3 4 5; do
    libp2p "gzip$run" --burst "$GZIP_BURST" && break
    FAILED_BURSTS=$((FAILED_BURSTS + 1))
    echo "# run $run: gzip burst failed: $(ev "$W/gzip$run.log" kaspa_session_failed reason)" >&2
  done
  tcp "tburst$run" --burst "$BURST" --no-gzip ||
    die "run $run: TCP burst failed: $(ev "$W/tburst$run.log" kaspa_session_failed reason)"
  tcp "tgzip$run" --burst "$GZIP_BURST" ||
    die "run $run: TCP gzip burst failed: $(ev "$W/tgzip$run.log" kaspa_session_failed reason)"
  libp2p "lping$run" --pings "$PINGS" --no-gzip || die "run $run: libp2p pings failed"
  tcp "tping$run" --pings "$PINGS" --no-gzip || die "run $run: TCP pings failed"
  b=$(burst_sample "$W/burst$run.log")
  g=$(burst_sample "$W/gzip$run.log")
  tb=$(burst_sample "$W/tburst$run.log")
  tg=$(burst_sample "$W/tgzip$run.log")
  lp=$(ping_sample "$W/lping$run.log") || die "run $run: libp2p pings not all answered"
  tp=$(ping_sample "$W/tping$run.log") || die "run $run: TCP pings not all answered"
  [[ -n $b && -n $g && -n $tb && -n $tg ]] || die "run $run: no kaspa_burst event"
  jq -nc --argjson run "$run" --argjson b "$b" --argjson g "$g" --argjson lp "$lp" --argjson tp "$tp" \
    --argjson tb "$tb" --argjson tg "$tg" \
    '{run: $run, libp2p_burst: $b, libp2p_burst_gzip: $g, libp2p_pings: $lp, tcp_burst: $tb,
      tcp_burst_gzip: $tg, tcp_pings: $tp}' |
    tee -a "$SAMPLES" >&2
done

INMEM='[]'
if ((INMEM_MIB > 0)) && [[ -x $build/bench_kaspa ]]; then
  INMEM=$("$build/bench_kaspa" "$INMEM_MIB" 2>/dev/null | grep '^{' | jq -s -c .) || INMEM='[]'
fi

mkdir -p "$(dirname "$OUT")"
jq -s --arg date "$(date -u +%FT%TZ)" --arg build "$build" \
  --arg commit "$(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null)" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg burst "$BURST" --arg gburst "$GZIP_BURST" \
  --argjson inmem "$INMEM" --argjson failed "$FAILED_BURSTS" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r2: if . == null then null else (. * 100 | round) / 100 end;
  {
    date: $date, build: $build, commit: $commit, loadavg_before_inmem: $load,
    method: "loopback, one holepunch server; per run: libp2p kaspa_load --burst (gzip off, then on), TCP kaspa_load --burst (gzip off, then on; --kaspa-connect to --kaspa-listen), libp2p --pings, TCP --pings; medians over runs",
    runs: length,
    failed_bursts_retried: $failed,
    libp2p: {
      burst_bytes: $burst,
      burst_mb_per_s: (map(.libp2p_burst.mb_per_s) | median | r2),
      burst_msgs_per_s: (map(.libp2p_burst.msgs_per_s) | median | r2),
      burst_gzip_bytes: $gburst,
      burst_gzip_mb_per_s: (map(.libp2p_burst_gzip.mb_per_s) | median | r2),
      burst_gzip_msgs_per_s: (map(.libp2p_burst_gzip.msgs_per_s) | median | r2),
      ping_rounds_per_s: (map(.libp2p_pings.rounds_per_s) | median | r2),
      ready_ms: (map(.libp2p_pings.ready_ms) | median)
    },
    tcp: {
      burst_mb_per_s: (map(.tcp_burst.mb_per_s) | median | r2),
      burst_msgs_per_s: (map(.tcp_burst.msgs_per_s) | median | r2),
      burst_gzip_mb_per_s: (map(.tcp_burst_gzip.mb_per_s) | median | r2),
      ping_rounds_per_s: (map(.tcp_pings.rounds_per_s) | median | r2),
      ready_ms: (map(.tcp_pings.ready_ms) | median)
    },
    ratio_libp2p_over_tcp: {
      burst_mb_per_s: ((map(.libp2p_burst.mb_per_s) | median) / (map(.tcp_burst.mb_per_s) | median) | r2),
      burst_mb_per_s_median_of_run_ratios: (map(.libp2p_burst.mb_per_s / .tcp_burst.mb_per_s) | median | r2),
      burst_gzip_mb_per_s: ((map(.libp2p_burst_gzip.mb_per_s) | median) / (map(.tcp_burst_gzip.mb_per_s) | median) | r2),
      ping_rounds_per_s: ((map(.libp2p_pings.rounds_per_s) | median) / (map(.tcp_pings.rounds_per_s) | median) | r2),
      ping_rounds_per_s_median_of_run_ratios: (map(.libp2p_pings.rounds_per_s / .tcp_pings.rounds_per_s) | median | r2),
      inmem_throughput_gzip_off: ($inmem | map(select(.bench == "kaspa_throughput" and .gzip == false))
        | (map(select(.profile == "libp2p"))[0].mib_per_s) as $l | (map(select(.profile == "tcp"))[0].mib_per_s) as $t
        | if $l and $t then $l / $t | r2 else null end)
    },
    inmem_bench_kaspa: $inmem,
    samples: .
  }' "$SAMPLES" >"$OUT" || die "cannot write $OUT"
jq -c '{libp2p, tcp, ratio_libp2p_over_tcp}' "$OUT"
echo "# written to $OUT" >&2
