#!/usr/bin/env bash
# ours vs rust-libp2p 0.56 (tests/interop/rust), in one run (issue 11 item 5):
#   perf      one-stream /perf/1.0.0 on loopback, upload and download Mbit/s, for the
#             dialer→listener pairs ours→ours, rust→rust, ours→rust, rust→ours
#   connrate  sequential new connections per second on loopback against both listeners:
#             rust dials with rustpeer `connrate` (dial, Noise, Yamux, a 1-byte echo, close),
#             ours with `bench_host handshakes` (dial, Noise, Yamux, ready, close: no echo)
#   punch     relayed → direct ms in the NAT lab (restricted/restricted, 25 ms on each router's
#             public link: a↔b RTT 100 ms) through our relay, median of --runs, for the
#             (dialer A, listener B) pairs ours/ours, rust/rust, ours/rust, rust/ours; ours
#             reports direct_connected.ms_since_relayed, rust the time from its relayed
#             connection to the punched one's ConnectionEstablished (needs root)
#
#   bash bench/vs_rust.sh [BUILD_DIR] [--runs N] [--mib N] [--count N] [--out FILE]
#     BUILD_DIR default build/release (holepunch, tapdelay); results to bench/results/vs_rust.json
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$HERE/.." && pwd)
RUNS=5 MIB=64 COUNT=200 OUT=$SRC_DIR/bench/results/vs_rust.json build=build/release
while (($#)); do
  case $1 in
  --runs) RUNS=$2; shift 2 ;;
  --mib) MIB=$2; shift 2 ;;
  --count) COUNT=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  *) build=$1; shift ;;
  esac
done
[[ $build = /* ]] || build=$SRC_DIR/$build
export BUILD_DIR=$build HOLEPUNCH=$build/holepunch
[[ -x $HOLEPUNCH ]] || { echo "vs_rust.sh: $HOLEPUNCH not built" >&2; exit 1; }
bash "$SRC_DIR/tests/interop/rust-build.sh" >&2 || exit 1
# The tests' peer is a dev build (deps at opt-level 1, our code at 0, for a fast cold build);
# the benchmark builds an optimised one next to it (cargo --release, same caches).
(
  cd "$SRC_DIR/tests/interop/rust" &&
    CARGO_HOME=$SRC_DIR/build/interop/cargo-home CARGO_TARGET_DIR=$SRC_DIR/build/interop/rust \
      nice -n 10 cargo build --locked --release -j2 --quiet
) || exit 1
source "$SRC_DIR/tests/lab/lib.sh"
source "$SRC_DIR/tests/lab/matrix_lib.sh"
RUSTPEER=$SRC_DIR/build/interop/rust/release/rustpeer
BYTES=$((MIB * 1048576))
results=()

# Loopback listeners (their own keys, in the lab lib's work dir).
"$HOLEPUNCH" listen --listen /ip4/127.0.0.1/tcp/0 --key "$PW/lo_hp.key" --log-format json \
  >/dev/null 2>"$PW/lo_hp.log" &
PIDS[lo_hp]=$!
"$RUSTPEER" listen --listen /ip4/127.0.0.1/tcp/0 --key "$PW/lo_rp.key" --timeout 3600 \
  >"$PW/lo_rp.log" 2>/dev/null &
PIDS[lo_rp]=$!
jwait "$PW/lo_hp.log" listening 10 && jwait "$PW/lo_rp.log" listening 20 || { echo "listeners did not start" >&2; exit 1; }
declare -A ADDR
ADDR[ours]=$(jfirst "$PW/lo_hp.log" listening true addr)
ADDR[rust]="$(jfirst "$PW/lo_rp.log" listening true 'addrs[0]')/p2p/$(jfirst "$PW/lo_rp.log" listening true peer)"

perf_pair() { # DIALER LISTENER → "up down" Mbit/s
  local d=$1 l=$2 out
  if [[ $d == ours ]]; then
    out=$("$HOLEPUNCH" perf "${ADDR[$l]}" --upload "$BYTES" --download "$BYTES" --key "$PW/cli.key" \
      --log-format json 2>&1 | grep '"event":"perf"' | head -n1)
    jq -r '"\(.upload_mbps) \(.download_mbps)"' <<<"$out"
  else
    out=$("$RUSTPEER" perf "${ADDR[$l]}" --upload "$BYTES" --download "$BYTES" | grep '"event":"perf"')
    jq -r --argjson b "$BYTES" '"\($b * 8 / 1e6 / .upload_seconds) \($b * 8 / 1e6 / .download_seconds)"' <<<"$out"
  fi
}
punch_keys
for pair in ours:ours rust:rust ours:rust rust:ours; do
  IFS=: read -r d l <<<"$pair"
  read -r up down <<<"$(perf_pair "$d" "$l")"
  plog "perf $d→$l: up $up down $down Mbit/s"
  results+=("$(jq -nc --arg d "$d" --arg l "$l" --argjson up "${up:-null}" --argjson down "${down:-null}" \
    --argjson mib "$MIB" '{bench:"perf",dialer:$d,listener:$l,mib:$mib,up_mbps:$up,down_mbps:$down}')")
done
for l in rust ours; do
  out=$("$RUSTPEER" connrate "${ADDR[$l]}" --count "$COUNT" | grep '"event":"connrate"')
  cps=$(jq -r '.count / .seconds' <<<"$out")
  plog "connrate rust→$l: $cps conn/s"
  results+=("$(jq -nc --arg l "$l" --argjson cps "${cps:-null}" --argjson n "$COUNT" \
    '{bench:"connrate",dialer:"rust",listener:$l,count:$n,conn_per_s:$cps}')")
done
if [[ -x $build/bench_host ]]; then
  for l in rust ours; do
    cps=$("$build/bench_host" handshakes "${ADDR[$l]}" 3 2>/dev/null | jq -r 'select(.event == "host_handshakes") | .per_s')
    plog "connrate ours→$l: $cps conn/s (bench_host handshakes)"
    results+=("$(jq -nc --arg l "$l" --argjson cps "${cps:-null}" \
      '{bench:"connrate",dialer:"ours",listener:$l,tool:"bench_host handshakes",conn_per_s:$cps}')")
  done
fi
punch_stop lo_hp
punch_stop lo_rp

# Relayed → direct at 100 ms RTT.
if [[ $(id -u) -eq 0 ]]; then
  for pair in ours:ours rust:rust ours:rust rust:ours; do
    IFS=: read -r d l <<<"$pair"
    ms=()
    for ((i = 0; i < RUNS; i++)); do
      punch_lab_up --nat-a restricted --nat-b restricted --delay-a 25 --delay-b 25 || break
      if mx_start_relay_ours && "mx_start_listener_$l"; then
        if [[ $d == ours ]]; then
          punch_client run 60 ping --count 1 --wait-direct 25000 --timeout 55000
          v=$(jfirst "$PW/run.log" direct_connected true ms_since_relayed)
        else
          mx_run_dialer_rust
          v=$([[ -z $MX_D_ERR ]] && echo "$MX_D_MS")
        fi
        [[ -n $v && $v != null ]] && ms+=("$v")
      fi
      punch_lab_down
      rm -f "$PW"/*.log
    done
    med=$(printf '%s\n' "${ms[@]}" | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "null"}')
    plog "punch A=$d B=$l: ${#ms[@]}/$RUNS punched, median ${med} ms"
    results+=("$(jq -nc --arg d "$d" --arg l "$l" --argjson med "$med" --argjson ok "${#ms[@]}" \
      --argjson runs "$RUNS" '{bench:"punch_100ms_rtt",dialer:$d,listener:$l,runs:$runs,punched:$ok,median_ms:$med}')")
  done
else
  plog "not root: punch bench skipped"
fi

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "${results[@]}" | jq -s --arg date "$(date -u +%FT%TZ)" --arg rust "rust-libp2p 0.56.0" \
  '{date:$date,rust:$rust,results:.}' >"$OUT"
cat "$OUT"
