#!/usr/bin/env bash
# With io_uring disabled host-wide (kernel.io_uring_disabled=2, as some
# hardened hosts and seccomp profiles have it), hearth must still run: its
# event loop falls back to epoll and the disks to libaio, and it says so.
# Changes a host setting, so meson runs it alone; restored on exit.
. "$(dirname "$0")/lib.sh"
require_kvm
knob=/proc/sys/kernel/io_uring_disabled
if [ ! -w "$knob" ]; then
	echo "SKIP: no writable $knob (kernel older than 6.6, or not root)"
	exit 77
fi
old=$(cat "$knob")
trap 'echo "$old" >"$knob"; rm -rf "$TMP"' EXIT
echo 2 >"$knob"
truncate -s 1M "$TMP/d0.img"
expect_exit 0 "probe guest with disks, io_uring disabled" -- \
	"$HEARTH" run --kernel "$PROBE" --log-level info --disk "path=$TMP/d0.img" \
	--cmdline "probe.tests=blk,blk-msix" --timeout 60s
expect_grep "$TMP/out" "^PROBE: done pass=2 fail=0" "the guest's disk tests pass"
expect_grep "$TMP/err" "event loop falls back to epoll" "the log says the loop uses epoll"
expect_grep "$TMP/err" "disk vda: .*, libaio" "the log says the disk uses libaio"
finish
