#!/usr/bin/env bash
# Installs what is needed, builds hearth and its test guests, and runs every
# test suite: unit (cmocka) and integration (small guests under KVM), then the
# same suites again in an ASan/UBSan build, the fuzz harnesses briefly, then
# the Linux guest suite.
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

cp "$SAN/meson-logs/testlog.json" "$BUILD/testlog-asan.json"

# The libFuzzer harnesses, built with clang and ASan/UBSan, briefly.
FUZZ_SECONDS=${FUZZ_SECONDS:-20} BUILD=$BUILD bash scripts/fuzz.sh || status=1
logs=("$BUILD/testlog-main.json" "$BUILD/testlog-asan.json")

# Linux guests: their own suite and time budget (the first run builds the
# test kernel, ~5 min on 2 cores; later runs use the cache). Skipped with
# HEARTH_TESTS=fast.
if [ "${HEARTH_TESTS:-all}" != fast ]; then
	meson test -C "$BUILD" --print-errorlogs --suite linux || status=$?
	cp "$BUILD/meson-logs/testlog.json" "$BUILD/testlog-linux.json"
	logs+=("$BUILD/testlog-linux.json")
fi

# One closing line a CI reader understands, from meson's own results.
python3 - "${logs[@]}" <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
for line in (l for f in sys.argv[1:] for l in open(f)):
    r = json.loads(line)["result"]
    key = "OK" if r in ("OK", "EXPECTEDFAIL") else "SKIP" if r == "SKIP" else "FAIL"
    n[key] += 1
print(f"tests: {n['OK']} passed, {n['FAIL']} failed, {n['SKIP']} skipped")
PY
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "note: /dev/kvm is not usable here, so the tests that boot guests were skipped"
fi
exit $status
