# shellcheck shell=bash
# need_gopeer: sets GOPEER to the go-libp2p test peer that tests/interop/go-build.sh built, or
# ends the test with SKIP (exit 0) when there is no Go toolchain, or FAIL under CI=true or
# when Go is there but the peer was not built.
GOPEER=${GOPEER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/build/interop/go/gopeer}
need_gopeer() {
  [[ -x $GOPEER ]] && return 0
  if ! command -v go >/dev/null 2>&1 && [[ ${CI:-} != true ]]; then
    echo "SKIP: no Go toolchain, so no go-libp2p peer ($GOPEER)"
    exit 0
  fi
  echo "FAIL: $GOPEER not built (bash tests/interop/go-build.sh)"
  exit 1
}
