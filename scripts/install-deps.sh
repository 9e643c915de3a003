#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those missing.
# Usage: scripts/install-deps.sh [build|test]   (test adds the NAT lab and fuzz tooling)
set -euo pipefail
want=(build-essential cmake pkg-config libssl-dev libuv1-dev libnghttp2-dev libprotobuf-c-dev
      protobuf-c-compiler zlib1g-dev libcmocka-dev libmicrohttpd-dev libinih-dev libsystemd-dev
      help2man libc-ares-dev)
if [ "${1:-build}" = test ] || [ "${1:-build}" = demo ]; then
  want+=(clang clang-format libclang-rt-14-dev nftables iproute2 nodejs npm procps psmisc curl
         dnsmasq-base)
  # The hostile clients of tests/adversarial/ and scripts/check-layers.py are Python 3 (stdlib only).
  command -v python3 >/dev/null || want+=(python3)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from outside Debian (as on the CI image); then nodejs/npm are not needed.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
