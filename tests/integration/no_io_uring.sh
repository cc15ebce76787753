#!/usr/bin/env bash
# With io_uring disabled (kernel.io_uring_disabled=2, as some hardened
# hosts have it, or a seccomp profile that denies it), hearth must still
# run: its event loop falls back to epoll and the disks to libaio, and it
# says so. Where the sysctl exists (Linux 6.6+) and can be written, it is
# used: a host setting, so meson runs this test alone, restored on exit.
# Elsewhere tests/host/no_uring refuses io_uring_setup(2) with the same
# EPERM through a seccomp filter of its own.
. "$(dirname "$0")/lib.sh"
require_kvm
knob=/proc/sys/kernel/io_uring_disabled
without=()
if [ -w "$knob" ]; then
	old=$(cat "$knob")
	trap 'echo "$old" >"$knob"; rm -rf "$TMP"' EXIT
	echo 2 >"$knob"
	echo "# io_uring disabled through $knob"
else
	without=("$NO_URING")
	echo "# io_uring_setup refused by a seccomp filter (no writable $knob)"
fi
truncate -s 1M "$TMP/d0.img"
expect_exit 0 "probe guest with disks, io_uring disabled" -- \
	"${without[@]}" "$HEARTH" run --kernel "$PROBE" --log-level info --disk "path=$TMP/d0.img" \
	--cmdline "probe.tests=blk,blk-msix" --timeout 60s
expect_grep "$TMP/out" "^PROBE: done pass=2 fail=0" "the guest's disk tests pass"
expect_grep "$TMP/err" "event loop falls back to epoll" "the log says the loop uses epoll"
expect_grep "$TMP/err" "disk vda: .*, libaio" "the log says the disk uses libaio"
finish
