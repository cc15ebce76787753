#!/usr/bin/env bash
# Boots the null kernel (tests/guest/null), a hand-made bzImage, through the
# 64-bit boot protocol entry: marker on the console, boot marker logged,
# clean exit, on 1 and several vCPUs (the other vCPUs never run past the
# exit: no crash report after the guest's verdict), console to a file; its
# setup header; and its last resort, a triple fault, when no exit device
# answers.
. "$(dirname "$0")/lib.sh"
require_kvm

# The setup header a loader reads (Documentation/x86/boot.rst).
hdr() { od -An -tx1 -j "$1" -N "$2" "$NULLKERNEL" | tr -d ' \n'; }
if [ "$(hdr 0x1fe 2)" = 55aa ] && [ "$(hdr 0x202 4)" = 48647253 ] &&
	[ $((0x$(hdr 0x207 1)$(hdr 0x206 1))) -ge $((0x020c)) ] &&
	[ $((0x$(hdr 0x211 1) & 1)) = 1 ] && [ $((0x$(hdr 0x236 1) & 1)) = 1 ]; then
	ok "setup header: boot_flag, HdrS, protocol >= 2.12, LOADED_HIGH, XLF_KERNEL_64"
else
	not_ok "setup header: $(hdr 0x1f1 0x70)"
fi
sects=$((0x$(hdr 0x1f1 1)))
syssize=$((0x$(hdr 0x1f7 1)$(hdr 0x1f6 1)$(hdr 0x1f5 1)$(hdr 0x1f4 1)))
size=$(wc -c <"$NULLKERNEL")
if [ $(((size - (sects + 1) * 512 + 15) / 16)) = "$syssize" ]; then
	ok "setup_sects ($sects) and syssize ($syssize) match the file's $size bytes"
else
	not_ok "setup_sects $sects, syssize $syssize, file $size bytes"
fi

for n in 1 2 4; do
	expect_exit 0 "null kernel on $n vCPU(s)" -- "$HEARTH" run --kernel "$NULLKERNEL" --cpus "$n" \
		--log-level info
	expect_grep "$TMP/out" "^HEARTH-NULL: marker" "marker on the console ($n vCPUs)"
	expect_grep "$TMP/err" "guest boot marker 1 at [0-9.]+ ms" "boot marker timed ($n vCPUs)"
	if grep -q "error" "$TMP/err"; then
		not_ok "errors logged after a clean exit"
		sed 's/^/#   /' "$TMP/err"
	else
		ok "nothing logged as an error ($n vCPUs)"
	fi
done
expect_exit 0 "null kernel, console to a file" -- "$HEARTH" run --kernel "$NULLKERNEL" \
	--console "file:$TMP/null.log"
expect_grep "$TMP/null.log" "^HEARTH-NULL: marker" "console file holds the marker"

# With the exit device moved away, the null kernel's writes to 0x4f0 and
# 0x501 go nowhere and it ends in its fallback triple fault.
expect_exit 120 "null kernel without an exit device (triple fault: a reset)" -- "$HEARTH" run --kernel "$NULLKERNEL" \
	--exit-port 0x80
expect_grep "$TMP/out" "^HEARTH-NULL: marker" "marker printed before the fallback"
expect_grep "$TMP/err" "triple fault" "fallback reported as a triple fault"
finish
