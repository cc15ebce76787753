#!/usr/bin/env bash
# Installs what is needed, builds hearth and its test guests, and runs every
# test suite: the format check, unit (cmocka) and integration (small guests
# under KVM) tests, the same again in an ASan/UBSan build, the fuzz
# harnesses briefly, then the Linux guest suite (HEARTH_TESTS=fast skips
# it). Everything is built and the host-only suites run on this host; the
# suites that boot guests run here where /dev/kvm works and otherwise inside
# one box (scripts/box.sh), started again once for the suites left if the
# box itself dies. The closing line counts every check: meson's tests, the
# format check and each fuzz harness.
set -euo pipefail
cd "$(dirname "$0")/.."

# Minutes since the start on every phase line, so that a slow run shows
# where its time went; and one budget for the whole run (HEARTH_BUDGET_MIN,
# default 80: CI stops a run at 90), which the box's time limit below is
# cut to, so that a box that hangs ends the run red with every result
# printed rather than late with none.
t0=$(date +%s)
budget_s=$((${HEARTH_BUDGET_MIN:-80} * 60))
say() { local d=$(($(date +%s) - t0)); printf 'test.sh [%d:%02d]: %s\n' $((d / 60)) $((d % 60)) "$*"; }
left_s() { echo $((t0 + budget_s - $(date +%s))); }

kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
# Where the guest suites run: here where /dev/kvm works; in the box where it
# does not (use_box). On a PVM host (/dev/kvm without VMX/SVM, docs/pvm.md)
# the small guests of the integration suite run here, but the linux suite
# boots Debian's stock kernel, which PVM cannot run: that suite runs in the
# box (linux_box).
use_box= linux_box=
if [ "${HEARTH_BOX:-auto}" != never ]; then
	if ! kvm_usable; then
		use_box=1
	elif [ -e /sys/module/kvm_pvm ]; then
		linux_box=1
	fi
fi
bash scripts/deps.sh ${use_box:+--box} ${linux_box:+--box}
BUILD=${BUILD:-build}
SAN=${BUILD}-asan
# The Debian 12 image the linux suite boots (scripts/debian-image.sh:
# cached; a first build is ~4-8 min of downloads and dpkg, mostly waiting
# on the network and the disk) is built in the background while the builds,
# unit tests and fuzzers below keep the CPUs busy.
mkdir -p "$BUILD"
if [ "${HEARTH_TESTS:-all}" != fast ]; then
	say "building the Debian 12 test image in the background (log: $BUILD/debian-image.log)"
	# in a session of its own, so that an early exit (a failed build,
	# Ctrl-C) can stop it and its mmdebstrap, dpkg and mke2fs all at once
	setsid bash scripts/debian-image.sh >"$BUILD/debian-image.path" 2>"$BUILD/debian-image.log" &
	image_pid=$!
	trap 'kill -- -"$image_pid" 2>/dev/null || true' EXIT
fi
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
[ -f "$SAN/build.ninja" ] || meson setup "$SAN" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
say "building hearth, its tests and guests ($BUILD, $SAN)"
ninja -C "$BUILD"
ninja -C "$SAN"
say "built"

RESULTS=$BUILD/test-results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
# extra NAME OK|FAIL: a check that is not a meson test, in the closing line.
extra() { printf '{"name": "%s", "result": "%s"}\n' "$1" "$2" >>"$RESULTS/testlog-extra.json"; }

status=0
if bash scripts/format.sh --check; then extra format OK; else extra format FAIL; status=1; fi
# Includes point down the layer map of docs/architecture.md.
if python3 scripts/layers.py; then extra layers OK; else extra layers FAIL; status=1; fi

# Unit tests and the host suite (devices driven without a guest) need no
# KVM: here, in both builds, never in a box.
say "unit and host suites"
bash scripts/suites.sh "$RESULTS" "unit-main:$BUILD:unit" "unit-asan:$SAN:unit" \
	"host-main:$BUILD:host" "host-asan:$SAN:host" || status=1

# The libFuzzer harnesses, built with clang and ASan/UBSan, briefly.
say "fuzzing"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} BUILD=$BUILD FUZZ_RESULTS="$RESULTS/testlog-extra.json" \
	bash scripts/fuzz.sh || status=1

guest=("integration-main:$BUILD:integration" "integration-asan:$SAN:integration")
if [ "${HEARTH_TESTS:-all}" != fast ]; then
	# The guests' kernels are built or fetched here, where it is fast (the
	# first build of the test kernel takes ~5 min on 2 cores), not in a box.
	say "the Linux guests' kernels"
	# with its PVM patches only where it boots on this host's PVM: the
	# linux suite in the box runs on the box's own KVM, and a kernel it
	# lacks would be built there, under emulation (past any timeout)
	bash tests/guest/linux/build.sh ${linux_box:+--no-pvm} >/dev/null
	bash tests/guest/stock/fetch.sh >/dev/null
	if kill -0 "$image_pid" 2>/dev/null; then
		say "waiting for the Debian image build to finish (its log: $BUILD/debian-image.log)"
	fi
	if ! wait "$image_pid"; then
		say "the Debian image could not be built; the end of its log:"
		tail -n 15 "$BUILD/debian-image.log"
		extra "debian image (scripts/debian-image.sh)" FAIL
		status=1
	fi
	HEARTH_DEBIAN_IMAGE=$(tail -n 1 "$BUILD/debian-image.path" 2>/dev/null || true)
	export HEARTH_DEBIAN_IMAGE
	guest+=("linux:$BUILD:linux")
fi

# run_boxed SPEC...: the suites in the box, started again once for the
# suites left if the box itself dies; each suite without a result fails.
run_boxed() {
	local why=$1 attempt left limit rc spec name
	shift
	# The box itself, from the host: statuses, a guest inside, its failures.
	bash scripts/suites.sh "$RESULTS" "box:$BUILD:box" || status=1
	# Emulation is 10-50x slower than a real host: every timeout grows by
	# HEARTH_TIME_SCALE, none is dropped.
	export HEARTH_TIME_SCALE=${HEARTH_TIME_SCALE:-4}
	# One guest at a time: with two VMs running side by side on the box's
	# two CPUs, the box's own kernel lost its timer interrupts on a CPU
	# (RCU stalls, both guests and hearth's timeouts stuck) or a guest died
	# at random early in boot; one at a time never did (docs/testing.md).
	export MESON_TESTTHREADS=${MESON_TESTTHREADS:-1}
	# Even one at a time, a guest in the box now and then dies in ways we
	# could not tie to hearth (docs/testing.md): a test that fails in the
	# box runs once more, and both results are printed.
	export HEARTH_RETRY=${HEARTH_RETRY:-1}
	# Tests that pause and resume vCPUs pin hearth to one box CPU there
	# (tests/integration/lib.sh, box_pin_hearth; docs/testing.md says why).
	export HEARTH_IN_BOX=1
	for attempt in 1 2; do
		left=()
		for spec in "$@"; do [ -f "$RESULTS/done-${spec%%:*}" ] || left+=("$spec"); done
		[ ${#left[@]} -gt 0 ] || break
		# The box gets what is left of the run's budget, less a minute
		# for the closing line; a second attempt needs 5 minutes at least.
		limit=$(($(left_s) - 60))
		[ -z "${BOX_LIMIT:-}" ] || limit=$BOX_LIMIT
		if [ "$limit" -lt 300 ]; then
			say "no time left in the run's budget for the box (attempt $attempt; ${limit} s)"
			break
		fi
		say "${#left[@]} guest suite(s) in the box (attempt $attempt, up to ${limit} s; $why)"
		rc=0
		bash scripts/box.sh --timeout "$limit" -- \
			bash scripts/suites.sh "$RESULTS" "${left[@]}" || rc=$?
		case $rc in
		0) break ;;
		211) say "the box died (not a test failure); the suites it had not finished run again" ;;
		*) status=1; break ;; # a test failed, or the box could not start or ran out of time
		esac
	done
	for spec in "$@"; do
		name=${spec%%:*}
		if [ ! -f "$RESULTS/done-$name" ]; then
			say "suite $name has no result: the box could not run it"
			extra "$name (box)" FAIL
			status=1
		fi
	done
}

say "guest suites"
if [ -n "$use_box" ]; then
	run_boxed "/dev/kvm is not usable here" "${guest[@]}"
elif [ -n "$linux_box" ] && [ "${guest[-1]%%:*}" = linux ]; then
	# PVM: the small guests here, then the linux suite in the box
	bash scripts/suites.sh "$RESULTS" "${guest[@]:0:${#guest[@]}-1}" || status=1
	run_boxed "this host's KVM is PVM, which cannot run Debian's stock kernel" "${guest[-1]}"
else
	bash scripts/suites.sh "$RESULTS" "${guest[@]}" || status=1
fi

# One closing line a CI reader understands, from every result above.
say "done"
python3 - "$RESULTS"/testlog-*.json <<'PY'
import json, sys
n = {"OK": 0, "FAIL": 0, "SKIP": 0}
skipped = []
for f in sys.argv[1:]:
    run = f.rsplit("testlog-", 1)[1][:-len(".json")]
    for line in open(f):
        r = json.loads(line)
        res = r["result"]
        key = "OK" if res in ("OK", "EXPECTEDFAIL") else "SKIP" if res == "SKIP" else "FAIL"
        n[key] += 1
        if key == "SKIP":
            why = [l for l in (r.get("stdout") or "").splitlines() if l.startswith("SKIP")]
            skipped.append(f'{r["name"]} ({run}): {why[-1] if why else "no reason given"}')
for line in skipped:
    print(f"skipped: {line}")
print(f"tests: {n['OK']} passed, {n['FAIL']} failed, {n['SKIP']} skipped")
PY
exit $status
