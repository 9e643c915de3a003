#!/usr/bin/env bash
# The Debian package and the install rules, from this build tree (never installed on the
# machine): cpack builds the .deb; dpkg-deb -c / -I show the binary, the systemd units, the
# configs (conffiles) and the runtime Depends; the extracted binary runs --version and
# --help, and starts a relay and a server from the packaged config files; the units carry
# their hardening and pass `systemd-analyze verify` (when it exists); `cmake --install` into
# a DESTDIR with another prefix gives units that name that prefix.
set -euo pipefail
# shellcheck source=tests/daemons/lib.sh
. "$(dirname "$0")/lib.sh"
need_holepunch
[ -n "${BUILD_DIR:-}" ] && [ -f "$BUILD_DIR/CPackConfig.cmake" ] || fail "BUILD_DIR has no CPackConfig.cmake"
for t in cpack dpkg-deb; do command -v "$t" >/dev/null || fail "$t not found"; done

step cpack 300 cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$WORK/pkg"
DEB="$(ls "$WORK"/pkg/kaspa-holepunch_*.deb)"
log "ok: built $(basename "$DEB")"

dpkg-deb -c "$DEB" >"$WORK/contents.txt"
has() { grep -qE "$1" "$WORK/contents.txt" || fail "dpkg-deb -c lacks $1: $(cat "$WORK/contents.txt")"; }
has '^-rwxr-xr-x root/root .* \./usr/bin/holepunch$'
has ' \./usr/lib/systemd/system/holepunch-relay\.service$'
has ' \./usr/lib/systemd/system/holepunch-server\.service$'
has ' \./usr/lib/systemd/system/holepunch-bridge\.service$'
has ' \./etc/kaspa-holepunch/bridge\.conf$'
for page in holepunch holepunch-relay holepunch-server holepunch-bridge holepunch-client; do
  has " \./usr/share/man/man1/$page\.1(\.gz)?\$"
done
has ' \./etc/kaspa-holepunch/relay\.conf$'
has ' \./etc/kaspa-holepunch/server\.conf$'
has ' \./usr/share/doc/kaspa-holepunch/examples/relay\.conf$'
has ' \./usr/share/doc/kaspa-holepunch/README\.md$'
has ' \./usr/share/doc/kaspa-holepunch/operators\.md$'
log "ok: dpkg-deb -c lists the binary, the three units, the configs, the man pages and the docs"

dpkg-deb -I "$DEB" >"$WORK/info.txt"
dpkg-deb -f "$DEB" Package | grep -qx kaspa-holepunch || fail "package name: $(cat "$WORK/info.txt")"
DEPENDS="$(dpkg-deb -f "$DEB" Depends)"
LIBS=(libssl3 libuv1 libnghttp2-14 libprotobuf-c1 zlib1g libmicrohttpd12 libinih1 libc-ares2)
for lib in "${LIBS[@]}"; do
  [[ ", $DEPENDS," == *", $lib "* ]] || fail "Depends lacks $lib: $DEPENDS"
done
# The names must be real Debian packages (when this machine has apt's lists).
if command -v apt-cache >/dev/null && apt-cache show libc6 >/dev/null 2>&1; then
  apt-cache show "${LIBS[@]}" >/dev/null 2>&1 || fail "apt-cache does not know all of ${LIBS[*]}"
fi
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles >"$WORK/conffiles" ||
  fail "no conffiles in the package"
for conf in relay server bridge; do
  grep -qx "/etc/kaspa-holepunch/$conf.conf" "$WORK/conffiles" || fail "$conf.conf is not a conffile"
done
[[ ", $DEPENDS," == *", libsystemd0,"* || ", $DEPENDS," == *", libsystemd0 "* ]] || fail "Depends lacks libsystemd0: $DEPENDS"
log "ok: Depends: $DEPENDS; /etc/kaspa-holepunch/*.conf are conffiles"

X="$WORK/root"
dpkg-deb -x "$DEB" "$X"
HX="$X/usr/bin/holepunch"
step version 10 "$HX" --version
grep -qE '^holepunch [0-9]+\.[0-9]+\.[0-9]+' "$WORK/version.out" || fail "--version: $(cat "$WORK/version.out")"
step help 10 "$HX" --help
grep -q 'relay' "$WORK/help.out" || fail "--help lists no commands"
step relay_help 10 "$HX" relay --help
grep -q -- '--config FILE' "$WORK/relay_help.out" || fail "relay --help lacks --config"
log "ok: the extracted binary: $(cat "$WORK/version.out"), --help and relay --help"

# The packaged config files are valid for their commands: start each with the state and
# ports moved to this test (flags beat the file).
start_bg pkg_relay 30 "$HX" relay --config "$X/etc/kaspa-holepunch/relay.conf" \
  --key "$WORK/r.key" --listen /ip4/127.0.0.1/tcp/0
RELAY="$(listen_addr pkg_relay)"
start_bg pkg_server 30 "$HX" server --config "$X/etc/kaspa-holepunch/server.conf" \
  --key "$WORK/s.key" --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY"
wait_for 15 pkg_server 'e.event === "reservation"' >/dev/null
start_bg pkg_bridge 30 "$HX" bridge --config "$X/etc/kaspa-holepunch/bridge.conf" \
  --key "$WORK/b.key" --listen /ip4/127.0.0.1/tcp/0 --relay "$RELAY"
wait_for 15 pkg_bridge 'e.event === "reservation"' >/dev/null
log "ok: relay, server and bridge run from the packaged configs (reserved on relay $RELAY)"

# The units: dedicated user, state directory, hardening, restart, --config.
U="$X/usr/lib/systemd/system"
for unit in holepunch-relay holepunch-server holepunch-bridge; do
  for want in '^Type=notify$' '^ExecReload=/bin/kill -HUP \$MAINPID$' '^DynamicUser=yes$' "^StateDirectory=$unit\$" '^NoNewPrivileges=yes$' \
    '^ProtectSystem=strict$' '^Restart=on-failure$' \
    "^ExecStart=/usr/bin/holepunch ${unit#holepunch-} --config /etc/kaspa-holepunch/${unit#holepunch-}\.conf\$"; do
    grep -qE "$want" "$U/$unit.service" || fail "$unit.service lacks $want"
  done
done
log "ok: the three units: Type=notify, reload by SIGHUP, a dynamic user with a state directory, hardened, restart on failure"
if command -v systemd-analyze >/dev/null; then
  # verify checks that ExecStart's binary exists: point it at the extracted one.
  mkdir -p "$WORK/units"
  for unit in holepunch-relay holepunch-server holepunch-bridge; do
    sed "s|/usr/bin/holepunch|$HX|" "$U/$unit.service" >"$WORK/units/$unit.service"
  done
  systemd-analyze verify --man=no "$WORK"/units/*.service >"$WORK/verify.out" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$WORK/verify.out")"
  [ ! -s "$WORK/verify.out" ] || fail "systemd-analyze verify warns: $(cat "$WORK/verify.out")"
  log "ok: systemd-analyze verify passes the three units without a warning"
else
  log "skip: no systemd-analyze on this machine, the units are not verified"
fi

# make install's path: another prefix through DESTDIR.
DESTDIR="$WORK/stage" step install 120 cmake --install "$BUILD_DIR" --prefix /opt/hp
[ -x "$WORK/stage/opt/hp/bin/holepunch" ] || fail "cmake --install put no binary in DESTDIR/opt/hp/bin"
grep -qx 'ExecStart=/opt/hp/bin/holepunch relay --config /opt/hp/etc/kaspa-holepunch/relay.conf' \
  "$WORK/stage/opt/hp/lib/systemd/system/holepunch-relay.service" || fail "unit does not name prefix /opt/hp"
for conf in relay server bridge; do
  [ -f "$WORK/stage/opt/hp/etc/kaspa-holepunch/$conf.conf" ] || fail "no $conf.conf under the prefix"
done
[ -f "$WORK/stage/opt/hp/share/man/man1/holepunch-relay.1" ] || fail "no man page under the prefix"
step staged_version 10 "$WORK/stage/opt/hp/bin/holepunch" --version
log "ok: cmake --install --prefix /opt/hp into a DESTDIR: binary runs, units name the prefix"
