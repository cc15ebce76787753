#!/usr/bin/env bash
# Boots hearth's Linux test guest (tests/guest/linux, built on first use and
# cached) to its /init: the uncompressed vmlinux through PVH on 1 and 2
# vCPUs, the bzImage through the 64-bit boot protocol, and an ext4 root on
# virtio-blk with a second data disk. /init checks what it sees and hands its
# verdict to the exit device; the host then checks the disk images.
. "$(dirname "$0")/../integration/lib.sh"
require_kvm
dir=$(bash "$(dirname "$0")/../guest/linux/build.sh" | tail -1)
BASE="console=ttyS0 reboot=k panic=-1 noxsave"

# pattern SEED FILE: the bytes /init's disk check writes at 1 MiB match.
pattern_ok() {
	python3 - "$1" "$2" <<'PY'
import sys
seed, path = int(sys.argv[1]), sys.argv[2]
want = bytes((i * 131 + seed * 7 + (i >> 9)) & 0xff for i in range(1 << 20))
with open(path, "rb") as f:
    f.seek(1 << 20)
    sys.exit(0 if f.read(1 << 20) == want else 1)
PY
}

boot() { # boot NAME KERNEL CPUS [DISK CHECK [EXTRA]]: one disk as vda, CHECK run with hearth.disk=/dev/vda
	local log=$TMP/$1.log start=$SECONDS checks=cpus,cmdline extra=() cmd
	if [ $# -gt 3 ]; then
		rm -f "$TMP/d1.img"
		truncate -s 4M "$TMP/d1.img"
		extra=(--disk "$4")
		checks=$checks,$5
	fi
	cmd="$BASE${6:+ $6} hearth.checks=$checks hearth.cpus=$3${4:+ hearth.disk=/dev/vda}"
	expect_exit 0 "$1: /init passes its checks" -- \
		"$HEARTH" run --kernel "$2" --initrd "$dir/initramfs.cpio" --cpus "$3" --memory 256M \
		--cmdline "$cmd" --timeout 90s "${extra[@]}" --console "file:$log"
	echo "# $1: $((SECONDS - start)) s to exit"
	expect_grep "$log" "Linux version 6\.1\." "$1: kernel banner"
	expect_grep "$log" "^HEARTH-INIT: reached /init" "$1: reached /init"
	expect_grep "$log" "^HEARTH-CHECK: cpus online=$3 result=pass" "$1: sees $3 CPU(s)"
	expect_grep "$log" "^HEARTH-CHECK: cmdline $cmd result=pass" "$1: command line intact"
	expect_grep "$log" "^HEARTH-RESULT: pass" "$1: verdict"
}

boot pvh-1cpu "$dir/vmlinux" 1 "path=$TMP/d1.img" disk
if pattern_ok 1 "$TMP/d1.img"; then ok "pvh-1cpu: host finds the pattern on the disk"; else not_ok "pvh-1cpu: pattern differs"; fi
# without MSI (pci=nomsi) the driver falls back to INTx: level interrupts
# through the I/O APIC pins the MP table lists for PCI slots
boot pvh-2cpu-intx "$dir/vmlinux" 2 "path=$TMP/d1.img" disk pci=nomsi
expect_grep "$TMP/pvh-2cpu-intx.log" "virtio-pci 0000:00:01.0: PCI->APIC IRQ transform: INT A -> IRQ 16" \
	"pvh-2cpu-intx: the disk uses INTA on IRQ 16"
if pattern_ok 1 "$TMP/d1.img"; then ok "pvh-2cpu-intx: host finds the pattern on the disk"; else not_ok "pvh-2cpu-intx: pattern differs"; fi
boot bzimage-1cpu "$dir/bzImage" 1

# ext4 root on vda (Linux's own virtio-blk driver is the client), data disk
# on vdb, 2 vCPUs; then the host reads what the guest wrote.
cp "$dir/root.ext4" "$TMP/root.img"
truncate -s 8M "$TMP/data.img"
expect_exit 0 "root=/dev/vda: ext4 root and a data disk" -- \
	"$HEARTH" run --kernel "$dir/vmlinux" --cpus 2 --memory 256M \
	--disk "path=$TMP/root.img" --disk "path=$TMP/data.img,serial=data-1" \
	--cmdline "$BASE root=/dev/vda rw init=/init hearth.checks=cpus,rootfs,disk hearth.cpus=2 hearth.disk=/dev/vdb hearth.seed=5" \
	--timeout 90s --console "file:$TMP/root.log"
expect_grep "$TMP/root.log" "virtio_blk virtio0: \[vda\] 65536 512-byte logical blocks" "vda is the 32 MiB root image"
expect_grep "$TMP/root.log" "virtio_blk virtio1: \[vdb\] 16384 512-byte logical blocks" "vdb is the 8 MiB data disk"
expect_grep "$TMP/root.log" "VFS: Mounted root \(ext4 filesystem\)" "root mounted from vda"
expect_grep "$TMP/root.log" "^HEARTH-CHECK: rootfs fs=ext4 result=pass" "guest: file on the ext4 root written and read back"
expect_grep "$TMP/root.log" "^HEARTH-CHECK: disk dev=/dev/vdb bytes=1048576 result=pass" "guest: 1 MiB written, flushed, read back with O_DIRECT"
# The guest stopped right after fsync, as after a power cut: what it was told
# is durable must be there once the journal is replayed.
rc=0
e2fsck -fy "$TMP/root.img" >"$TMP/fsck.log" 2>&1 || rc=$?
if [ $rc -le 1 ] && e2fsck -fn "$TMP/root.img" >>"$TMP/fsck.log" 2>&1; then
	ok "host: root image recovers (journal replay) and is then clean"
else
	not_ok "host: e2fsck: $rc"
	sed 's/^/#   /' "$TMP/fsck.log" | head
fi
if [ "$(debugfs -R "cat /hearth-root.txt" "$TMP/root.img" 2>/dev/null)" = "hearth wrote this file from the guest" ]; then
	ok "host: the guest's fsynced file is on the root image"
else
	not_ok "host: /hearth-root.txt missing or wrong in the root image"
fi
if pattern_ok 5 "$TMP/data.img"; then ok "host: the data disk holds the guest's pattern byte for byte"; else not_ok "host: data disk pattern differs"; fi

# SIGTERM: hearth presses Ctrl-Alt-Del, Linux hands it to init as SIGINT
# (init turned CAD off), init powers off, hearth exits 0 before the deadline.
"$HEARTH" run --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --memory 256M \
	--cmdline "$BASE hearth.checks=cpus hearth.wait=cad" --shutdown-timeout 60s \
	--console "file:$TMP/cad.log" >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
for _ in $(seq "$(scaled 240)"); do grep -q "waiting for ctrl-alt-del" "$TMP/cad.log" 2>/dev/null && break; sleep 0.5; done
start=$SECONDS
kill -TERM "$pid"
got=0
wait "$pid" || got=$?
if [ "$got" = 0 ]; then ok "SIGTERM: Linux shuts down cleanly (exit 0, $((SECONDS - start)) s)"; else not_ok "SIGTERM: exit $got"; sed 's/^/#   /' "$TMP/err" | head; fi
expect_grep "$TMP/cad.log" "^HEARTH-INIT: ctrl-alt-del: powering off" "the guest's init got the request"

# The control API with Linux: pause and resume a booted guest on 2 vCPUs
# (it must come back), then shut it down through the API (exit 0).
if command -v curl >/dev/null; then
	SOCK=$TMP/api.sock
	"$HEARTH" run --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --memory 256M --cpus 2 \
		--cmdline "$BASE hearth.checks=cpus hearth.cpus=2 hearth.wait=cad" --shutdown-timeout 60s \
		--api-socket "$SOCK" --console "file:$TMP/api.log" >"$TMP/out" 2>"$TMP/err" </dev/null &
	pid=$!
	for _ in $(seq "$(scaled 480)"); do grep -q "waiting for ctrl-alt-del" "$TMP/api.log" 2>/dev/null && break; sleep 0.5; done
	code() { curl -s -m 30 -o /dev/null -w '%{http_code}' -X "$1" --unix-socket "$SOCK" "http://localhost$2" || true; }
	[ "$(code PUT /v1/vm/pause)" = 204 ] && ok "Linux: paused" || not_ok "Linux: pause failed"
	sleep 2
	[ "$(code PUT /v1/vm/resume)" = 204 ] && ok "Linux: resumed" || not_ok "Linux: resume failed"
	[ "$(code PUT /v1/vm/shutdown)" = 204 ] && ok "Linux: shutdown asked" || not_ok "Linux: shutdown failed"
	got=0
	wait "$pid" || got=$?
	if [ "$got" = 0 ]; then ok "Linux shuts down through the API after a pause (exit 0)"; else not_ok "API shutdown: exit $got"; sed 's/^/#   /' "$TMP/err" | head; fi
	expect_grep "$TMP/api.log" "^HEARTH-INIT: ctrl-alt-del: powering off" "the resumed guest's init got the request"
fi

# A failing check inside the guest fails the run.
expect_exit 1 "a failing /init check fails the run" -- \
	"$HEARTH" run --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --memory 256M \
	--cmdline "$BASE hearth.checks=cpus hearth.cpus=3" --timeout 90s --console "file:$TMP/fail.log"
expect_grep "$TMP/fail.log" "^HEARTH-CHECK: cpus online=1 result=fail" "the failed check is reported"
finish
