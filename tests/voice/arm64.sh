#!/bin/sh
# The voice tests in an arm64 Debian bookworm userland (what a Pi runs), on this machine:
# arm64 binaries run under qemu-user through proot, so no binfmt_misc and no privileges
# are needed to run them. Not in CI (minutes, network for the first run): `make voice-arm64`.
# Needs qemu-user-static, proot and mmdebstrap (Debian packages); making the userland
# (once, ~200 MB in $ARM64_ROOT) needs root. Extra arguments go to pytest (-k ..., -x).
set -eu
cd "$(dirname "$0")/../.."
root=${ARM64_ROOT:-/var/tmp/motcua-arm64}
if [ ! -x "$root/usr/bin/espeak-ng" ]; then
  # extract: the packages unpacked, no maintainer scripts (they would need binfmt_misc)
  mmdebstrap --variant=extract --architectures=arm64 \
    --include=python3,python3-pytest,python3-hypothesis,espeak-ng,python3-pygame,dash,coreutils \
    bookworm "$root"
fi
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
mkdir -p "$src/pkg"
cp -r motcua "$src/pkg/motcua"
for room in caller kiosk counter display sounds; do cp -r "$room" "$src/pkg/motcua/$room"; done
cp -r tests setup.cfg pyproject.toml examples "$src/"
proot -0 -q qemu-aarch64-static -r "$root" -b "$src:/src" -b /proc -b /dev -w /src \
  /usr/bin/env PYTHONPATH=/src/pkg SDL_AUDIODRIVER=dummy HOME=/tmp PATH=/usr/bin:/bin \
  /usr/bin/python3 -c 'import platform, subprocess; print("machine:", platform.machine(),
    "|", subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip())'
proot -0 -q qemu-aarch64-static -r "$root" -b "$src:/src" -b /proc -b /dev -w /src \
  /usr/bin/env PYTHONPATH=/src/pkg SDL_AUDIODRIVER=dummy HOME=/tmp PATH=/usr/bin:/bin \
  /usr/bin/python3 -m pytest -p no:cacheprovider -q tests/voice "$@"
