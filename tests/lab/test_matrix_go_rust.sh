#!/usr/bin/env bash
# Issue 11 matrix, the rest of its 24 cells (relay ∈ {ours, go, rust, js} × listener × dialer
# ∈ {ours, go, rust}, at least one of ours in each): the cells where go and rust meet
# (relay=ours between them, and go/rust relays with ours and the other one), and the two
# ours-only cells (ours and js relays) so the whole matrix is reported in one place.
# test_matrix_go.sh and test_matrix_rust.sh hold the other 16. Same harness, same asserts
# (tests/lab/matrix_lib.sh). MX_CELLS="RELAY:LISTENER:DIALER ..." picks cells.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/matrix_lib.sh"
punch_need_root
punch_need_holepunch
mx_need go
need_rustpeer_lab
CELLS=${MX_CELLS:-"ours:ours:ours js:ours:ours ours:go:rust ours:rust:go go:ours:rust go:rust:ours rust:ours:go rust:go:ours"}
for c in $CELLS; do
  IFS=: read -r r l d <<<"$c"
  mx_cell "$r" "$l" "$d"
done
mx_summary
