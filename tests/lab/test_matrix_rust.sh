#!/usr/bin/env bash
# Issue 11 matrix, the rust cells: relay ∈ {ours, rust, js} × (listener, dialer) over
# {ours, rust} with at least one of ours among the three (the cells where rust meets go:
# test_matrix_go_rust.sh). One lab per cell (tests/lab/matrix_lib.sh, rust
# plug-ins in matrix_rust.sh). Our relay runs on 0.0.0.0 without --announce, so the rust
# listener behind it also checks that its reservations carry addresses (rust rejects an
# empty list: NoAddressesInReservation). MX_CELLS="RELAY:LISTENER:DIALER ..." picks cells.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/matrix_lib.sh"
punch_need_root
punch_need_holepunch
need_rustpeer_lab
CELLS=${MX_CELLS:-"ours:ours:rust ours:rust:ours ours:rust:rust rust:ours:ours rust:ours:rust rust:rust:ours js:ours:rust js:rust:ours"}
for c in $CELLS; do
  IFS=: read -r r l d <<<"$c"
  mx_cell "$r" "$l" "$d"
done
mx_summary
