#!/usr/bin/env bash
# Boots the null kernel (tests/guest/null), a hand-made bzImage, through the
# 64-bit boot protocol entry: marker on the console, boot marker logged,
# clean exit, on 1 and several vCPUs; the other vCPUs never run past the
# exit (no crash report after the guest's verdict).
. "$(dirname "$0")/lib.sh"
require_kvm
for n in 1 2 4; do
	expect_exit 0 "null kernel on $n vCPU(s)" -- "$HEARTH" run --kernel "$NULLKERNEL" --cpus "$n" \
		--log-level info
	expect_grep "$TMP/out" "^HEARTH-NULL: marker" "marker on the console ($n vCPUs)"
	expect_grep "$TMP/err" "guest boot marker 1 at [0-9.]+ ms" "boot marker timed ($n vCPUs)"
	if grep -q "error" "$TMP/err"; then not_ok "errors logged after a clean exit"; sed 's/^/#   /' "$TMP/err"; else ok "nothing logged as an error ($n vCPUs)"; fi
done
expect_exit 0 "null kernel, console to a file" -- "$HEARTH" run --kernel "$NULLKERNEL" \
	--console "file:$TMP/null.log"
expect_grep "$TMP/null.log" "^HEARTH-NULL: marker" "console file holds the marker"
finish
