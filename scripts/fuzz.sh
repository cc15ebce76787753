#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang and ASan/UBSan in
# build-fuzz/ and runs each for FUZZ_SECONDS (default 15). A crash fails;
# every harness runs either way. Each starts from its checked-in seeds
# (tests/fuzz/corpus/NAME/, if any) and the corpus earlier runs left in
# build-fuzz/corpus/, with its dictionary (tests/fuzz/NAME.dict, if any).
# FUZZ_ONLY="fuzz_api fuzz_pvh" runs only those. With FUZZ_RESULTS=FILE each
# harness's result is appended to FILE as a meson-style JSON line
# (scripts/test.sh counts them in its closing line).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-15}
B=${BUILD:-build}-fuzz
if [ ! -f "$B/build.ninja" ]; then
	CC=clang-14 meson setup "$B" -Db_sanitize=address,undefined -Db_lundef=false -Dstatic=false \
		-Dwerror=true -Dfuzzing=true >/dev/null
fi
meson configure "$B" -Dfuzzing=true >/dev/null # a build dir made before the option
fuzzers=(fuzz_virtio_blk fuzz_virtio_pci fuzz_virtio_net fuzz_api fuzz_bzimage fuzz_pvh
	fuzz_config fuzz_blk_device fuzz_iscsi fuzz_part fuzz_state fuzz_snapshot)
if [ -n "${FUZZ_ONLY:-}" ]; then
	read -r -a fuzzers <<<"$FUZZ_ONLY"
fi
ninja -C "$B" "${fuzzers[@]/#/tests/fuzz/}" >/dev/null
mkdir -p "$B/corpus"
status=0
for f in "${fuzzers[@]}"; do
	name=${f#fuzz_}
	args=(-max_total_time="$SECONDS_EACH" -print_final_stats=1)
	[ ! -f "tests/fuzz/$name.dict" ] || args+=(-dict="tests/fuzz/$name.dict")
	dirs=("$B/corpus/$f")
	[ ! -d "tests/fuzz/corpus/$name" ] || dirs+=("tests/fuzz/corpus/$name")
	mkdir -p "$B/corpus/$f"
	echo "fuzz: $f for ${SECONDS_EACH}s"
	# the harness's own status (a grep that finds nothing must not hide it);
	# a small ASan quarantine: the harnesses free what they allocate at once,
	# and fresh pages for every allocation cost more than the checks
	rc=0
	UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16} \
		"$B/tests/fuzz/$f" "${args[@]}" "${dirs[@]}" 2>&1 |
		grep -E "^(stat::number_of_executed_units|==|SUMMARY|#[0-9]+[[:space:]]+DONE)" || rc=${PIPESTATUS[0]}
	if [ "$rc" = 0 ]; then res=OK; else res=FAIL; status=1; echo "fuzz: $f failed (status $rc)"; fi
	[ -z "${FUZZ_RESULTS:-}" ] || printf '{"name": "fuzz %s", "result": "%s"}\n' "$f" "$res" >>"$FUZZ_RESULTS"
done
exit $status
