#!/usr/bin/env bash
# Shared helpers for hearth's integration tests (sourced, not run).
# Environment: HEARTH (the binary), PROBE (probe.elf), NULLKERNEL (bzImage).
set -euo pipefail

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hearth-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
PASSES=0

# Exit 77 (meson's "skipped") when /dev/kvm cannot be used.
require_kvm() {
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		echo "SKIP: /dev/kvm is not usable here"
		exit 77
	fi
}

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, captures stdout
# in $TMP/out and stderr in $TMP/err, and checks the exit status.
expect_exit() {
	local want=$1 what=$2 got=0
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null || got=$?
	if [ "$got" = "$want" ]; then
		ok "$what (exit $got)"
	else
		not_ok "$what: exit $got, wanted $want"
		sed 's/^/#   stderr: /' "$TMP/err" | head -20
		sed 's/^/#   stdout: /' "$TMP/out" | head -20
	fi
}

# expect_grep FILE REGEX DESCRIPTION
expect_grep() {
	if grep -Eq -- "$2" "$1"; then
		ok "$3"
	else
		not_ok "$3: no /$2/ in $(basename "$1")"
		sed 's/^/#   /' "$1" | head -20
	fi
}

# expect_one_line FILE DESCRIPTION: an error is one line, naming the problem.
expect_one_line() {
	local n
	n=$(wc -l <"$1")
	if [ "$n" = 1 ]; then ok "$2: one line"; else not_ok "$2: $n lines"; sed 's/^/#   /' "$1"; fi
}

finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
}
