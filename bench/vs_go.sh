#!/usr/bin/env bash
# Ours against go-libp2p v0.52 (tests/interop/go) in one run: one-stream /perf/1.0.0
# throughput and sequential new connections per second on loopback, and relayed → direct time
# in the NAT lab at 100 ms RTT between the peers (natlab --delay-a 25 --delay-b 25: each
# router adds 2 × 25 ms), for go↔go, ours↔ours and ours↔go. Results: bench/results/vs_go.txt.
#   HOLEPUNCH (default build/release/holepunch, else build/test/holepunch), MIB (default 256),
#   RUNS (punch runs per cell, default 3)
set -uo pipefail
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOLEPUNCH=${HOLEPUNCH:-$SRC_DIR/build/release/holepunch}
[[ -x $HOLEPUNCH ]] || HOLEPUNCH=$SRC_DIR/build/test/holepunch
BUILD_DIR=${BUILD_DIR:-$(dirname "$HOLEPUNCH")}
export HOLEPUNCH BUILD_DIR
source "$SRC_DIR/tests/interop/go/peer.sh"
need_gopeer
MIB=${MIB:-256}
BYTES=$((MIB * 1048576))
OUT=$SRC_DIR/bench/results/vs_go.txt
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$W"' EXIT
mkdir -p "$SRC_DIR/bench/results"

start_go() {
  "$GOPEER" listen --key "$W/go.key" --timeout 600 >"$W/go.out" 2>"$W/go.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$W/go.out" && break; sleep 0.1; done
  GO_MA=$(jq -r 'select(.event=="listening") | .addr + "/p2p/" + .peer' "$W/go.out")
}
start_ours() {
  "$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$W/us.key" --log-format json \
    >"$W/us.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q '"listening"' "$W/us.out" && break; sleep 0.1; done
  US_MA=$(grep '"listening"' "$W/us.out" | head -1 | jq -r .addr)
}
# perf_go MA / perf_ours MA: "up_MBps down_MBps" for one stream each way.
perf_go() {
  local up down
  up=$("$GOPEER" perf "$1" --upload $BYTES --download 0 --timeout 300 | jq -r .seconds)
  down=$("$GOPEER" perf "$1" --upload 0 --download $BYTES --timeout 300 | jq -r .seconds)
  awk -v b=$BYTES -v u="$up" -v d="$down" 'BEGIN { printf "%.0f %.0f", b / u / 1e6, b / d / 1e6 }'
}
perf_ours() {
  "$HOLEPUNCH" perf "$1" --upload $BYTES --download $BYTES --key "$W/usc.key" --log-format json \
    --timeout 300000 2>&1 | grep '"event":"perf"' | tail -1 |
    jq -r '"\(.upload_mbps / 8 | floor) \(.download_mbps / 8 | floor)"'
}
connrate_go() {
  "$GOPEER" connrate "$1" --count 200 --timeout 120 | jq -r '.count / .seconds | floor'
}

start_go
start_ours
{
  echo "# bench/vs_go.sh $(date -u +%FT%TZ) holepunch=$HOLEPUNCH go-libp2p v0.52.0; $MIB MiB per direction"
  echo "## loopback /perf/1.0.0, one stream (MB/s up down)"
  echo "go->go     $(perf_go "$GO_MA")"
  echo "ours->ours $(perf_ours "$US_MA")"
  echo "ours->go   $(perf_ours "$GO_MA")"
  echo "go->ours   $(perf_go "$US_MA")"
  echo "## loopback sequential new connections (dial, 1-byte echo, close) per second, 200 runs"
  echo "go->go     $(connrate_go "$GO_MA")"
  echo "go->ours   $(connrate_go "$US_MA")"
  # ours dialing: bench_host handshakes (dial, Noise, Yamux, ready, close: no 1-byte echo,
  # so it does a little less per connection than go's connrate)
  if [[ -x $BUILD_DIR/bench_host ]]; then
    for t in go ours; do
      ma=$GO_MA
      [[ $t == ours ]] && ma=$US_MA
      echo "ours->$t $([[ $t == go ]] && echo "  ")$("$BUILD_DIR/bench_host" handshakes "$ma" 3 2>/dev/null |
        jq -r 'select(.event == "host_handshakes") | .per_s | floor') (bench_host handshakes)"
    done
  fi
} | tee "$OUT"
if [[ $EUID -eq 0 ]]; then
  echo "## NAT lab, 100 ms RTT A<->B (restricted/restricted): relayed -> direct ms" | tee -a "$OUT"
  # RUNS (default 3) runs of each cell; the CELL lines, then the median per cell
  cells="ours:go:go ours:ours:ours ours:ours:go ours:go:ours"
  all=""
  for ((i = 0; i < ${RUNS:-3}; i++)); do all+=" $cells"; done
  MX_LAB_ARGS="--delay-a 25 --delay-b 25" MX_CELLS="$all" \
    bash "$SRC_DIR/tests/lab/test_matrix_go.sh" 2>/dev/null | grep '^CELL' | tee -a "$W/cells.txt" >>"$OUT"
  for c in $cells; do
    IFS=: read -r r l d <<<"$c"
    grep "relay=$r listener=$l dialer=$d pass" "$W/cells.txt" | sed 's/.*relayed_to_direct_ms=//' |
      sort -n | awk -v c="relay=$r listener=$l dialer=$d" '{a[NR]=$1} END {
        printf "median %s: %s ms (%d passed)\n", c, NR ? a[int((NR+1)/2)] : "null", NR }'
  done | tee -a "$OUT"
fi
