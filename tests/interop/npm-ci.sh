#!/usr/bin/env bash
# Installs the interop test dependencies (js-libp2p, @grpc/grpc-js) from package-lock.json.
# Runs `npm ci` only when node_modules is missing or older than the lockfile, so repeated
# test runs cost nothing. CTest runs this as the `npm` fixture before every interop test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "npm-ci.sh: '$tool' not found; the interop tests need Node.js >= 20 and npm" >&2
    echo "npm-ci.sh: install them (e.g. apt-get install nodejs npm) and rerun" >&2
    exit 1
  fi
done
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "npm-ci.sh: Node.js $(node --version) is too old; need >= 20 (js-libp2p 2.x)" >&2
  exit 1
fi

stamp=node_modules/.package-lock.json   # npm writes this on every install
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ] && [ ! package.json -nt "$stamp" ]; then
  echo "npm-ci.sh: node_modules is up to date with package-lock.json"
  exit 0
fi

echo "npm-ci.sh: running npm ci in $here"
# A shared lock so parallel CTest runs from several build dirs do not install at once.
lock="${TMPDIR:-/tmp}/holepunch-npm-ci-$(printf %s "$here" | cksum | cut -d' ' -f1).lock"
exec 9>"$lock"
flock -w 600 9
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ] && [ ! package.json -nt "$stamp" ]; then
  echo "npm-ci.sh: another run installed node_modules meanwhile"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
# Check that the modules the scripts import really load (catches a broken install).
node --input-type=module -e "import './js/polyfill.mjs'; await import('libp2p'); await import('@grpc/grpc-js'); await import('@grpc/proto-loader')"
echo "npm-ci.sh: ok"
