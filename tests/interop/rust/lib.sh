# Helpers for the tests that drive the rust-libp2p test peer. Source after lib.sh.
# need_rustpeer : sets $RUSTPEER to build/interop/rust/rustpeer (built by the
# interop/rust_build fixture, tests/interop/rust-build.sh), or exits 0 with SKIP when cargo
# is not installed — except under CI=true, where a missing toolchain fails the test.
need_rustpeer() {
  RUSTPEER="${RUSTPEER:-$SRC_DIR/build/interop/rust/rustpeer}"
  [ -x "$RUSTPEER" ] && return 0
  if command -v cargo >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo" ]; then
    fail "$RUSTPEER missing although cargo is installed (run tests/interop/rust-build.sh)"
  fi
  [ "${CI:-}" = true ] && fail "cargo not found and CI=true: the rust interop tests cannot run"
  echo "SKIP: $TEST_NAME: cargo not found (install Rust with rustup), rust peer not built"
  exit 0
}
