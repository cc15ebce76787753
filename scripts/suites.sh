#!/usr/bin/env bash
# suites.sh: runs meson test suites one after another and keeps each one's
# results, for scripts/test.sh; it runs here on a KVM host and inside the
# box (scripts/box.sh) elsewhere.
#
#   scripts/suites.sh OUTDIR NAME:BUILDDIR:SUITE...
#
# For each NAME it runs `meson test -C BUILDDIR --suite SUITE` (no rebuild:
# the caller has built), copies meson's testlog.json to OUTDIR/testlog-NAME.json
# and then writes OUTDIR/done-NAME, so that a caller whose box died part-way
# knows which suites finished and can run only the rest again.
# HEARTH_TIME_SCALE (default 1) multiplies meson's timeouts and the tests'
# own (tests/integration/lib.sh): emulation is slower, not more patient.
# HEARTH_RETRY=1 (test.sh sets it in the box only) runs each test that failed
# once more, alone; the second result counts, and both are printed and kept
# (OUTDIR/first-NAME.json holds the first run). A test that fails for a
# reason of ours fails twice; docs/testing.md says why the box needs this.
# Exit status: 0 when every suite passed, else the last failing one's.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
shift
mkdir -p "$out"
scale=${HEARTH_TIME_SCALE:-1}
if ! [[ $scale =~ ^[1-9][0-9]{0,2}$ ]]; then
	echo "suites: HEARTH_TIME_SCALE must be a whole number from 1 to 999, not '$scale'" >&2
	exit 2
fi
status=0
for spec in "$@"; do
	IFS=: read -r name dir suite <<<"$spec"
	rm -f "$out/done-$name" "$out/testlog-$name.json"
	echo "suites: $name: meson test --suite $suite in $dir (time scale ${scale}x)"
	rc=0
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
		meson test -C "$dir" --no-rebuild --print-errorlogs --suite "$suite" \
		--timeout-multiplier "$scale" || rc=$?
	[ -f "$dir/meson-logs/testlog.json" ] && cp "$dir/meson-logs/testlog.json" "$out/testlog-$name.json"
	if [ "$rc" != 0 ] && [ "${HEARTH_RETRY:-0}" = 1 ] && [ -f "$out/testlog-$name.json" ]; then
		mapfile -t failed < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(r["name"].split(" / ", 1)[-1])  # "project:suite / name": meson takes the name
' "$out/testlog-$name.json")
		if [ ${#failed[@]} -gt 0 ]; then
			mv "$out/testlog-$name.json" "$out/first-$name.json"
			echo "suites: $name: ${#failed[@]} test(s) failed; each runs once more (HEARTH_RETRY): ${failed[*]}"
			rm -f "$dir/meson-logs/testlog.json"
			UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
				meson test -C "$dir" --no-rebuild --print-errorlogs --suite "$suite" \
				--timeout-multiplier "$scale" "${failed[@]}" || true
			[ -f "$dir/meson-logs/testlog.json" ] || : >"$dir/meson-logs/testlog.json"
			# the first run's results, with each retried test's second
			# result; the status is 0 only if every result is a pass now
			rc=0
			python3 - "$out/first-$name.json" "$dir/meson-logs/testlog.json" \
				>"$out/testlog-$name.json" <<'PY' || rc=1
import json, sys
again = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    again[r["name"]] = r
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        if r["name"] in again:
            r = dict(again[r["name"]], retried=True, first_result=r["result"])
            print(f"suites: retried {r['name']}: {r['first_result']}, then {r['result']}",
                  file=sys.stderr)
        else:
            print(f"suites: {r['name']} did not run again: its failure stands", file=sys.stderr)
    bad += r["result"] not in ("OK", "SKIP", "EXPECTEDFAIL")
    print(json.dumps(r))
sys.exit(1 if bad else 0)
PY
		fi
	fi
	echo "$rc" >"$out/done-$name"
	[ "$rc" = 0 ] || status=$rc
done
exit $status
