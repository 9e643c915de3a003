#!/usr/bin/env bash
# Builds the rust-libp2p test peer (tests/interop/rust) into build/interop/rust/rustpeer.
# CTest runs this as the `rust` fixture before every test that drives the rust peer.
# Cargo's caches live under build/ (CARGO_HOME, CARGO_TARGET_DIR), so a second run builds
# nothing; Cargo.lock pins every crate (--locked). Without cargo it prints SKIP and exits 0
# (the tests then skip too), except under CI=true, where a missing toolchain is a failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
out="${RUSTPEER_DIR:-$src/build/interop/rust}"
export CARGO_HOME="${CARGO_HOME_INTEROP:-$src/build/interop/cargo-home}"
export CARGO_TARGET_DIR="$out"
cargo="$(command -v cargo || true)"
[ -n "$cargo" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo="$HOME/.cargo/bin/cargo"; }
if [ -z "$cargo" ]; then
  if [ "${CI:-}" = true ]; then
    echo "rust-build.sh: cargo not found and CI=true: the rust interop tests cannot run" >&2
    exit 1
  fi
  echo "SKIP: cargo not found (install Rust with rustup); the rust interop tests will skip"
  exit 0
fi
# CARGO_HOME moved under build/ loses rustup's toolchain selection only if RUSTUP_HOME
# is unset and rustup looks for it under CARGO_HOME; keep the user's.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
mkdir -p "$out"
# A shared lock so parallel CTest runs from several build dirs do not build at once.
exec 9>"$out/.build.lock"
flock -w 900 9
cd "$here/rust"
nice -n 10 "$cargo" build --locked -j2 --quiet
cmp -s "$out/debug/rustpeer" "$out/rustpeer" ||
  { cp -f "$out/debug/rustpeer" "$out/rustpeer.new" && mv -f "$out/rustpeer.new" "$out/rustpeer"; }
echo "rust-build.sh: $out/rustpeer ok"
