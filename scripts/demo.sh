#!/usr/bin/env bash
# Installs what is needed, builds hearth, and boots the built-in default
# guest: a tiny PVH test kernel that prints a line on its serial console,
# logs a boot marker and reports status 42 through hearth's exit device.
# (The Linux test guest replaces it as the default once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
set -x
status=0
"$BUILD/hearth" run --kernel "$BUILD/tests/guest/mini/mini-exit.elf" --cpus 2 --memory 256M \
	--timeout 10s --log-level info || status=$?
set +x
echo "hearth exited with status $status (the guest reported 42)"
