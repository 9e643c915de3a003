#!/usr/bin/env bash
# Builds the go-libp2p test peer (tests/interop/go) into $GOPEER_DIR (default
# build/interop/go/gopeer) with every Go cache under build/, pinned by go.mod/go.sum
# (-mod=readonly: nothing is resolved anew). CTest runs this as the `gopeer` fixture; a second
# run builds nothing. Without a Go toolchain it prints SKIP and succeeds (the tests that need
# the peer then skip too), except under CI=true, where a missing toolchain is a failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${GOPEER_DIR:-$root/build/interop/go}"
if ! command -v go >/dev/null 2>&1; then
  if [ "${CI:-}" = true ]; then
    echo "go-build.sh: FAIL: no Go toolchain (go not in PATH) and CI=true" >&2
    exit 1
  fi
  echo "SKIP: go-build.sh: no Go toolchain (go not in PATH); the go interop tests will skip"
  exit 0
fi
mkdir -p "$out"
export GOMODCACHE="$out/gomodcache" GOCACHE="$out/gocache" GOPATH="$out/gopath"
export GOFLAGS="-trimpath -mod=readonly" GOTOOLCHAIN=local CGO_ENABLED=0
# A shared lock so parallel CTest runs do not build into the same caches at once.
exec 9>"$out/.build.lock"
flock -w 600 9
cd "$here/go"
echo "go-build.sh: $(go version), building $out/gopeer"
nice -n 10 go build -p 2 -o "$out/gopeer.tmp" .
mv -f "$out/gopeer.tmp" "$out/gopeer"
"$out/gopeer" id --key "$out/selftest.key" >/dev/null
echo "go-build.sh: ok"
