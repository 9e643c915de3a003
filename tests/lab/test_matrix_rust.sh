#!/usr/bin/env bash
# The rust cells of the interop matrix (issue 11) in the NAT lab: relay ∈ {ours, rust, js} ×
# (listener, dialer) over {ours, rust}, every cell with at least one of ours. Per cell:
# reservation, relayed connection, DCUtR roles (the dialer is A: Noise initiator and Yamux
# client on the punched connection), a direct 64 KiB echo byte for byte and pings over the
# direct connection. Plug-ins in matrix_rust.sh. ours0 (our relay on 0.0.0.0 without
# --announce, reservations must still carry addresses: rust rejects an empty list) runs
# first. MX_CELLS="RELAY:LISTENER:DIALER ..." picks cells.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/matrix_rust.sh"
punch_need_root
punch_need_holepunch
if [[ ! -x $RUSTPEER ]]; then
  if command -v cargo >/dev/null || [[ -x $HOME/.cargo/bin/cargo ]]; then
    echo "FAIL: $RUSTPEER missing although cargo is installed (tests/interop/rust-build.sh)"; exit 1
  fi
  [[ ${CI:-} == true ]] && { echo "FAIL: cargo not found and CI=true"; exit 1; }
  echo "SKIP: cargo not found; the rust peer is not built"; exit 0
fi
CELLS=${MX_CELLS:-"ours0:rust:ours ours:ours:rust ours:rust:ours ours:rust:rust rust:ours:ours rust:ours:rust rust:rust:ours js:ours:rust js:rust:ours"}
for c in $CELLS; do
  IFS=: read -r relay lis dial <<<"$c"
  mx_cell "$relay" "$lis" "$dial"
done
punch_finish
