#!/usr/bin/env bash
# Installs what is needed, builds hearth and its test guests, and runs every
# test suite: unit (cmocka) and integration (tiny guests under KVM), then the
# same suites again in an ASan/UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD"

status=0
bash scripts/format.sh --check || status=1

suites=(--suite unit --suite integration)
meson test -C "$BUILD" --print-errorlogs "${suites[@]}" || status=$?
cp "$BUILD/meson-logs/testlog.json" "$BUILD/testlog-main.json"

# The same tests with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN=${BUILD}-asan
[ -f "$SAN/build.ninja" ] || meson setup "$SAN" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C "$SAN"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C "$SAN" --print-errorlogs "${suites[@]}" || status=$?

# One closing line a CI reader understands, from meson's own results.
python3 - "$BUILD/testlog-main.json" "$SAN/meson-logs/testlog.json" <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in open(sys.argv[1]).readlines() + open(sys.argv[2]).readlines():
    r = json.loads(line)["result"]
    key = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
    n[key] += 1
print(f"tests: {n['OK']} passed, {n['FAIL']} failed, {n['SKIP']} skipped")
PY
exit $status
