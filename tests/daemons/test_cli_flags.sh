#!/usr/bin/env bash
# The flag-table parser on real processes: "--flag=value" works like "--flag value" for the
# common flags and a command's own, a boolean takes "=false", and a bad or missing value
# exits non-zero at once with a message that names the flag and what it wants.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
H="$HOLEPUNCH"

LID="$(new_key l)"
new_key c >/dev/null

# A listener started with every common flag in the =value form.
start_bg listener 60 "$H" listen --listen=/ip4/127.0.0.1/tcp/0 --log-format=json \
  --log-level=info --log-redact=false --key="$WORK/l.key"
ADDR="$(listen_addr listener)"
[[ $ADDR == /ip4/127.0.0.1/tcp/*/p2p/$LID ]] || fail "listener address '$ADDR' (=value flags)"
log "ok: listen --listen=… --key=… --log-format=json --log-redact=false: $ADDR"

# A command flag in the =value form: exactly 3 pings.
step ping_eq 30 "$H" ping "$ADDR" --count=3 --log-format=json --key="$WORK/c.key"
N="$(jcount ping_eq "e.event === 'ping' && e.rtt_ms >= 0")"
[ "$N" -eq 3 ] || fail "ping --count=3 sent $N pings"
log "ok: ping --count=3 answered 3 times"

# The relay's own flags through the same table: =value forms reach the relay's config.
new_key r >/dev/null
start_bg relay 60 "$H" relay --listen=/ip4/127.0.0.1/tcp/0 --log-format=json --key="$WORK/r.key" \
  --circuit-data=64K --circuit-duration=90s --max-reservations=7 --reserve-rate-ip=10/1m \
  --max-connections=50 --stream-timeout=5s
wait_for 20 relay "e.event === 'relay_started'" >/dev/null
expect relay "e.event === 'relay_started' && e.circuit_data === 65536 && e.circuit_duration_s === 90 && e.max_reservations === 7" \
  "relay --circuit-data=64K --circuit-duration=90s --max-reservations=7 took effect"

# Bad and missing values: non-zero exit, the flag named, and what it wants.
bad() {
  local name="$1" want="$2"; shift 2
  step_fails "$name" 10 "$H" "$@"
  grep -q -- "$want" "$WORK/$name.err" || fail "$name: stderr lacks '$want': $(cat "$WORK/$name.err")"
  log "ok: $* -> $(head -n1 "$WORK/$name.err")"
}
bad bad_count "bad value 'abc' for --count" ping "$ADDR" --count=abc --key="$WORK/c.key"
bad bad_format "for --log-format: want human or json" ping "$ADDR" --log-format=xml
bad bad_bool "for --log-redact: want true or false" ping "$ADDR" --log-redact=maybe
bad no_value "--listen needs a value" ping "$ADDR" --listen
bad relay_rate "bad value '5' for --reserve-rate-ip: want BURST/DURATION" relay --reserve-rate-ip=5
bad relay_zero "bad value '0' for --max-connections" relay --max-connections=0
bad relay_dur "bad value 'soon' for --circuit-duration" relay --circuit-duration soon

# --flag=value on every command.
step keygen_eq 10 "$H" keygen --key="$WORK/k_eq.key"
[ -f "$WORK/k_eq.key" ] || fail "keygen --key=FILE wrote no file"
step id_eq 10 "$H" id --key="$WORK/k_eq.key"
[ "$(cat "$WORK/id_eq.out")" = "$(cat "$WORK/keygen_eq.out")" ] || fail "id --key= names another peer"
log "ok: keygen --key=… and id --key=… agree"
step perf_eq 30 "$H" perf "$ADDR" --upload=64K --download=32K --timeout=20s --key="$WORK/c.key" \
  --log-format=json
expect perf_eq "e.event === 'perf' && e.upload_bytes === 65536 && e.download_bytes === 32768" \
  "perf --upload=64K --download=32K --timeout=20s"
step echo_eq 30 "$H" echo "$ADDR" --streams=2 --bytes=8K --timeout=20s --log-format=json
expect echo_eq "e.event === 'echo_result' && e.ok === true && e.streams === 2" \
  "echo --streams=2 --bytes=8K --timeout=20s"
step ping_dur 30 "$H" ping "$ADDR" --count=2 --interval=200ms --timeout=20s --log-format=json
[ "$(jcount ping_dur "e.event === 'ping'")" -eq 2 ] || fail "ping --interval=200ms"
log "ok: ping --interval=200ms --timeout=20s (durations with units)"

start_bg server 60 "$H" server --kaspa-listen=127.0.0.1:0 --testnet --netsuffix=10 \
  --ping-interval=0 --max-message-size=1M --log-format=json
KADDR="$(wait_for 20 server "e.event === 'kaspa_listen'" e.addr)"
expect server "e.event === 'kaspa_listen' && e.network === 'kaspa-testnet-10'" \
  "server --testnet --netsuffix=10 means kaspa-testnet-10"
step client_eq 30 "$H" client --kaspa-connect="$KADDR" --network=kaspa-testnet-10 \
  --exit-after-ready --ping-interval=0 --log-format=json
log "ok: client --kaspa-connect=$KADDR --network=kaspa-testnet-10 --exit-after-ready"

start_bg bridge 30 "$H" bridge --listen=/ip4/127.0.0.1/tcp/0 --kaspad=127.0.0.1:1 \
  --network=kaspa-simnet --max-sessions=4 --punch-wait=5s --key="$WORK/l.key"
for _ in $(seq 50); do grep -q "network kaspa-simnet" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
grep -q "network kaspa-simnet" "$WORK/bridge.out" || fail "bridge --network=kaspa-simnet: $(cat "$WORK/bridge.out")"
log "ok: bridge --network=kaspa-simnet --kaspad=… --max-sessions=4 --punch-wait=5s"

# A flag only where it works: --wait-direct on the dialing probes, nowhere else.
bad relay_wait "unknown option '--wait-direct=1s'" relay --listen /ip4/127.0.0.1/tcp/0 --wait-direct=1s
bad client_wait "unknown option '--wait-direct'" client --wait-direct 1s --kaspa-connect 127.0.0.1:1
bad keygen_listen "unknown option '--listen'" keygen --listen /ip4/127.0.0.1/tcp/0
bad ping_relay "unknown option '--relay'" ping "$ADDR" --relay /ip4/127.0.0.1/tcp/1
bad bad_network "bad value 'kaspa-tesnet-10' for --network: want kaspa-mainnet, kaspa-testnet-N" \
  server --network=kaspa-tesnet-10 --kaspa-listen 127.0.0.1:0

# Every --help: exit 0, an Examples section at the end, and only the flags that work.
for cmd in keygen id listen ping perf echo relay server client bridge; do
  step "help_$cmd" 10 "$H" "$cmd" --help
  grep -q '^Examples:$' "$WORK/help_$cmd.out" || fail "$cmd --help has no Examples section"
  tail -n +"$(grep -n '^Examples:$' "$WORK/help_$cmd.out" | cut -d: -f1)" "$WORK/help_$cmd.out" |
    tail -n +2 | grep -qv '^  ' && fail "$cmd --help: something after the examples"
  if [[ $cmd == ping || $cmd == perf || $cmd == echo ]]; then
    grep -q -- '--wait-direct DUR' "$WORK/help_$cmd.out" || fail "$cmd --help lacks --wait-direct"
    grep -q -- '^  --listen MA' "$WORK/help_$cmd.out" || fail "$cmd --help lacks --listen"
  else
    grep -q -- '--wait-direct' "$WORK/help_$cmd.out" && fail "$cmd --help lists --wait-direct"
  fi
  # One unit style: no MS/SEC placeholders left.
  grep -qE -- '--[a-z-]+ (MS|SEC)\b' "$WORK/help_$cmd.out" && fail "$cmd --help still says MS/SEC"
done
grep -q 'fresh identity' "$WORK/help_client.out" || fail "client --help must say it uses a fresh identity"
grep -qF 'identity.key' "$WORK/help_client.out" && fail "client --help claims the default key file"
log "ok: every --help ends with Examples; --wait-direct only on ping/perf/echo; client's key honest"

step version 10 "$H" --version
grep -qE '^holepunch [0-9]+\.[0-9]+\.[0-9]+ \(git [^)]+\)$' "$WORK/version.out" ||
  fail "--version: $(cat "$WORK/version.out")"
log "ok: $(cat "$WORK/version.out")"
log "PASS"
