#!/usr/bin/env bash
# Issue 11 matrix, the go cells: relay ∈ {ours, go, js} × (listener, dialer) ∈ {ours, go}²
# with at least one of ours among the three (the cells where go meets rust:
# test_matrix_go_rust.sh). One lab per cell, cells one after another (tests/lab/matrix_lib.sh).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/matrix_lib.sh"
punch_need_root
punch_need_holepunch
mx_need go
CELLS=${MX_CELLS:-"ours:ours:go ours:go:ours ours:go:go go:ours:ours go:ours:go go:go:ours js:ours:go js:go:ours"}
for c in $CELLS; do
  IFS=: read -r r l d <<<"$c"
  mx_cell "$r" "$l" "$d"
done
mx_summary
