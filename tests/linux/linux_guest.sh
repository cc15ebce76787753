#!/usr/bin/env bash
# Boots hearth's Linux test guest (tests/guest/linux, built on first use and
# cached) to its /init: the uncompressed vmlinux through PVH on 1 and 2
# vCPUs, and the bzImage through the 64-bit boot protocol on 1 vCPU. /init
# checks the CPUs it sees and hands its verdict to the exit device.
. "$(dirname "$0")/../integration/lib.sh"
require_kvm
dir=$(bash "$(dirname "$0")/../guest/linux/build.sh" | tail -1)
BASE="console=ttyS0 reboot=k panic=-1 noxsave"

boot() { # boot NAME KERNEL CPUS
	local log=$TMP/$1.log start=$SECONDS
	expect_exit 0 "$1: /init passes its checks" -- \
		"$HEARTH" run --kernel "$2" --initrd "$dir/initramfs.cpio" --cpus "$3" --memory 256M \
		--cmdline "$BASE hearth.checks=cpus,cmdline hearth.cpus=$3" --timeout 240s \
		--console "file:$log"
	echo "# $1: $((SECONDS - start)) s to exit"
	expect_grep "$log" "Linux version 6\.1\." "$1: kernel banner"
	expect_grep "$log" "^HEARTH-INIT: reached /init" "$1: reached /init"
	expect_grep "$log" "^HEARTH-CHECK: cpus online=$3 result=pass" "$1: sees $3 CPU(s)"
	expect_grep "$log" "^HEARTH-CHECK: cmdline $BASE hearth.checks=cpus,cmdline hearth.cpus=$3 result=pass" \
		"$1: command line intact"
	expect_grep "$log" "^HEARTH-RESULT: pass" "$1: verdict"
}

boot pvh-1cpu "$dir/vmlinux" 1
boot pvh-2cpu "$dir/vmlinux" 2
boot bzimage-1cpu "$dir/bzImage" 1

# A failing check inside the guest fails the run.
expect_exit 1 "a failing /init check fails the run" -- \
	"$HEARTH" run --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --memory 256M \
	--cmdline "$BASE hearth.checks=cpus hearth.cpus=3" --timeout 240s --console "file:$TMP/fail.log"
expect_grep "$TMP/fail.log" "^HEARTH-CHECK: cpus online=1 result=fail" "the failed check is reported"
finish
