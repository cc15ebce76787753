#!/usr/bin/env bash
# scripts/box.sh itself, run on the host (scripts/test.sh runs this suite
# where it uses the box): a command's exit status comes back, a command
# boots a guest under hearth inside it, bad usage is refused (2), a box
# whose QEMU is missing cannot start (210) and one whose QEMU ends early
# died (211), each with one line. Two box starts, ~25 s.
. "$(dirname "$0")/../integration/lib.sh"
BOX=$(cd "$(dirname "$0")/../.." && pwd)/scripts/box.sh

expect_exit 37 "a command's exit status comes back" -- bash "$BOX" -- sh -c 'exit 37'
expect_exit 42 "a guest boots under hearth inside the box and its verdict comes back" -- \
	bash "$BOX" --timeout 300 -- "$HEARTH_REAL" run --kernel "$MINI_EXIT" --timeout 120s
expect_grep "$TMP/out" "hearth-mini: hello" "the guest's console reaches the caller"

expect_exit 2 "no command" -- bash "$BOX" --
expect_one_line "$TMP/err" "no command"
expect_exit 2 "a bad --timeout" -- bash "$BOX" --timeout soon -- true
expect_grep "$TMP/err" "^box: --timeout must be" "a bad --timeout is named"

expect_exit 210 "a box whose QEMU is missing cannot start" -- env BOX_QEMU=/nonexistent/qemu bash "$BOX" -- true
expect_one_line "$TMP/err" "cannot start"
expect_grep "$TMP/err" "^box: cannot start: QEMU \(/nonexistent/qemu\)" "cannot start: says what is missing"

expect_exit 211 "a box whose QEMU ends before the command does died" -- env BOX_QEMU=false bash "$BOX" -- true
expect_grep "$TMP/err" "^box: the box died before the command finished" "died: says so"
# (a line saying it waited for another box on this host does not count)
n=$(grep -v "^box: another box is running on this host" "$TMP/err" | grep -c . | tr -d ' ')
if [ "$n" = 2 ]; then ok "died: one line after the start line"; else not_ok "died: $n lines"; sed 's/^/#   /' "$TMP/err"; fi
finish
