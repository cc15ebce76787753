#!/usr/bin/env bash
# Debian's stock kernel (ACPI on) panics (no root, no initramfs) with
# panic=-1 and no reboot=: its emergency restart must end hearth with 120,
# not run into --timeout.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/stock_lib.sh"
require_kvm
stock_pick
CMD="console=ttyS0 panic=-1"
expect_exit 120 "stock kernel panics with panic=-1 and no reboot=: exit 120" -- \
	"$HEARTH" run --kernel "$KERNEL" --memory 512M --cmdline "$CMD" --timeout 60s \
	--console "file:$TMP/console.log"
expect_grep "$TMP/console.log" "Kernel panic - not syncing: VFS: Unable to mount root fs" "it panicked for want of a root"
if [ "$FAILS" != 0 ]; then tail -30 "$TMP/console.log" | sed 's/^/#   /'; fi
finish
