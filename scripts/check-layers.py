#!/usr/bin/env python3
"""Fails when an #include crosses the layers of docs/architecture.md the wrong way.

    util -> crypto -> identity -> wire -> proto -> net -> host -> kaspa -> apps

Rules (each violation is printed as FILE:LINE: rule: include):
  up      a file in src/<L>/ includes a private header of a later layer, or a public
          header (include/lp2p|kaspa/) whose layer is later than L;
  public  a public header includes a private one (util/..., proto/..., a generated
          *.pb-c.h): public headers show only public types;
  app     apps/ include a private header (anything under src/): apps see only include/;
  appsrc  a test, bench or fuzz file includes a .c file of apps/ (tests of internals may
          include private headers, never an app's source).

Known violations that are still being removed are listed in scripts/layers-allow.txt, one
"FILE: include" per line. That list may only shrink: a listed line that no longer occurs is
an error too, so the list stays exact. Usage: check-layers.py [REPO_ROOT]
"""
import os
import re
import sys

LAYERS = ["util", "crypto", "identity", "wire", "proto", "net", "host", "kaspa", "apps"]
RANK = {name: i for i, name in enumerate(LAYERS)}

# The layer each public header belongs to: a src file may include it from that layer on.
# A public header not named here belongs to the library it sits in (lp2p -> host,
# kaspa -> kaspa), i.e. the top of that library.
PUBLIC_LAYER = {
    "lp2p/err.h": "util",
    "lp2p/log.h": "util",
    "lp2p/identity.h": "identity",
    "lp2p/multiaddr.h": "wire",
    "lp2p/trace.h": "util",
    "lp2p/rng.h": "util",
    "lp2p/random.h": "crypto",
    "lp2p/clock.h": "net",
    "lp2p/relay_limits.h": "proto",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def public_rank(inc):
    if inc in PUBLIC_LAYER:
        return RANK[PUBLIC_LAYER[inc]]
    return RANK["kaspa"] if inc.startswith("kaspa/") else RANK["host"]


def is_public(root, inc):
    return os.path.isfile(os.path.join(root, "include", inc))


def private_layer(inc):
    head = inc.split("/", 1)[0]
    return head if "/" in inc and head in RANK else None


def check_file(root, rel):
    """Yields (line, rule, include) for every include of rel that breaks a rule."""
    parts = rel.split("/")
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    for n, line in enumerate(lines, 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        inc = m.group(1)
        if parts[0] == "include":
            if not is_public(root, inc):
                yield n, "public", inc
        elif parts[0] == "src":
            own = RANK.get(parts[1])
            if own is None:
                continue
            if is_public(root, inc):
                if public_rank(inc) > own:
                    yield n, "up", inc
            else:
                layer = private_layer(inc)
                if layer is not None and RANK[layer] > own:
                    yield n, "up", inc
        elif parts[0] == "apps":
            # Local headers of the app (no folder) are its own; anything else must be public.
            if "/" in inc and not is_public(root, inc):
                yield n, "app", inc
        elif parts[0] in ("tests", "bench", "fuzz"):
            if inc.endswith(".c") and ("apps/" in inc or "holepunch/" in inc):
                yield n, "appsrc", inc


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    files = []
    for top in ("include", "src", "apps", "tests", "bench", "fuzz"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            if "node_modules" in dirpath:
                continue
            for name in names:
                if name.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(dirpath, name), root))
    allow_path = os.path.join(root, "scripts", "layers-allow.txt")
    allowed = set()
    if os.path.exists(allow_path):
        with open(allow_path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    allowed.add(line)
    seen = set()
    bad = []
    for rel in sorted(files):
        for n, rule, inc in check_file(root, rel):
            key = f"{rel}: {inc}"
            seen.add(key)
            if key not in allowed:
                bad.append(f"{rel}:{n}: {rule}: #include \"{inc}\"")
    stale = sorted(allowed - seen)
    for b in bad:
        print(b)
    for s in stale:
        print(f"scripts/layers-allow.txt: '{s}' no longer occurs: delete the line")
    print(f"check-layers: {len(files)} files, {len(seen)} known violations left, "
          f"{len(bad)} new, {len(stale)} stale")
    return 1 if bad or stale else 0


if __name__ == "__main__":
    sys.exit(main())
