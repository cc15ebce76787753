#!/usr/bin/env bash
# stock_reboot.sh METHOD: Debian's stock kernel (ACPI on) reboots from user
# space (busybox reboot -f) with reboot=METHOD on its command line (a: the
# FADT's reset register, k: the keyboard controller, pci: port 0xcf9,
# t: a triple fault), or with none (METHOD "default": the kernel's own
# order, which starts with ACPI); every one must end hearth with 120.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/stock_lib.sh"
require_kvm
stock_pick
method=${1:?method}
cat >"$TMP/stage" <<'STAGE'
echo "hearth-user: rebooting" >/dev/ttyS0
reboot -f
STAGE
stock_initramfs "$TMP/initrd" "$TMP/stage"
CMD="console=ttyS0 panic=-1"
[ "$method" = default ] || CMD="$CMD reboot=$method"
expect_exit 120 "stock kernel, ${method/default/no reboot=}: reboot ends hearth" -- \
	"$HEARTH" run --kernel "$KERNEL" --initrd "$TMP/initrd.cpio.gz" --memory 512M \
	--cmdline "$CMD" --timeout 60s --console "file:$TMP/console.log"
expect_grep "$TMP/console.log" "Command line: $CMD[[:cntrl:]]*\$" "our exact command line"
expect_grep "$TMP/console.log" "reboot: Restarting system" "the kernel restarted"
if [ "$FAILS" != 0 ]; then tail -30 "$TMP/console.log" | sed 's/^/#   /'; fi
finish
