#!/usr/bin/env bash
# The seccomp filters (docs/security.md) while a guest runs: every thread
# of hearth shows "Seccomp: 2" (a filter) in /proc, and none with
# --seccomp off; a SIGTERM stop, its teardown included, runs under the
# filters. In a build with -Dtest_hooks=true, a vCPU thread or the I/O
# thread that makes a forbidden call ($HEARTH_TEST_SECCOMP) ends hearth
# with status 159 and one line naming the thread and the call.
. "$(dirname "$0")/lib.sh"
require_kvm

# modes PID: "NAME MODE" for each of its threads
modes() {
	local s
	for s in /proc/"$1"/task/*/status; do
		awk '/^Name:/ { n = $2 } /^Seccomp:/ { print n, $2 }' "$s" 2>/dev/null || true
	done
}

# look WANT WHAT [options]: a 2-vCPU guest; once its vCPUs run, every
# thread's mode must be WANT; then SIGTERM stops it at once (143).
look() {
	local want=$1 what=$2 pid got=0 seen=no
	shift 2
	"$HEARTH" run --kernel "$PROBE" --cmdline "probe.tests=idle" --cpus 2 --console none \
		--shutdown-timeout 0 --timeout 60s "$@" >"$TMP/out" 2>"$TMP/err" </dev/null &
	pid=$!
	for _ in $(seq "$(scaled 200)"); do
		modes "$pid" >"$TMP/modes"
		if [ "$(grep -c '^vcpu' "$TMP/modes")" = 2 ] &&
			[ "$(awk -v w="$want" '$2 != w' "$TMP/modes" | wc -l)" = 0 ]; then
			seen=yes
			break
		fi
		sleep 0.1
	done
	if [ $seen = yes ]; then
		ok "$what: Seccomp: $want on all $(wc -l <"$TMP/modes") threads"
	else
		not_ok "$what: threads' modes, wanted $want everywhere"
		sed 's/^/#   /' "$TMP/modes"
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || got=$?
	if [ "$got" = 143 ]; then ok "$what: SIGTERM stops it (exit 143)"; else
		not_ok "$what: exit $got after SIGTERM, wanted 143"
		sed -n '1,20s/^/#   stderr: /p' "$TMP/err"
	fi
}

look 2 "filters on by default"
look 0 "--seccomp off" --seccomp off

if [ "${HEARTH_TEST_HOOKS:-false}" = true ]; then
	for kind in vcpu io; do
		name=$kind
		[ "$kind" = vcpu ] && name='vcpu[0-9]+'
		expect_exit 159 "a forbidden call on the $kind thread" -- \
			env HEARTH_TEST_SECCOMP=$kind "$HEARTH" run --kernel "$PROBE" \
			--cmdline "probe.tests=idle" --console none --timeout 60s
		expect_grep "$TMP/err" \
			"^hearth: seccomp: thread $name made a forbidden system call: io_uring_setup \(425\)" \
			"it names the thread and the call"
		expect_one_line "$TMP/err" "the $kind thread's violation"
	done
	expect_exit 124 "the hook does nothing with --seccomp off" -- \
		env HEARTH_TEST_SECCOMP=vcpu "$HEARTH" run --kernel "$PROBE" \
		--cmdline "probe.tests=idle" --console none --timeout 2s --seccomp off
else
	echo "# the violation tests need a build with -Dtest_hooks=true"
fi
finish
