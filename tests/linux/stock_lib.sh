#!/usr/bin/env bash
# Helpers for the tests that boot Debian's stock kernel as users boot it
# (sourced after tests/integration/lib.sh).
#
# The kernel and its modules are the installed linux-image-amd64's
# (/boot/vmlinuz-VERSION with /lib/modules/VERSION): they are on every
# machine that runs the box (scripts/box.sh boots that very kernel), need no
# download, and a kernel and its modules from one package always match. The
# cloud kernel (tests/guest/stock/fetch.sh) would need its package's modules
# extracted as well, for no gain in what is tested.

# stock_pick: sets KVER and KERNEL to the newest installed kernel that has
# its modules; skips (77) without one.
stock_pick() {
	local k v
	KVER=
	for k in /boot/vmlinuz-*-amd64; do
		v=${k#/boot/vmlinuz-}
		[ -r "$k" ] && [ -d "/lib/modules/$v/kernel" ] && KVER=$v
	done
	if [ -z "$KVER" ] || ! command -v modprobe >/dev/null || ! [ -x /bin/busybox ] ||
		! command -v cpio >/dev/null; then
		echo "SKIP: needs linux-image-amd64, busybox-static, cpio and kmod"
		exit 77
	fi
	KERNEL=/boot/vmlinuz-$KVER
}

# init_head: the first lines of every busybox init these tests write:
# busybox's applets, proc, sys and dev.
init_head() {
	cat <<'HEAD'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
HEAD
}

# stock_initramfs DIR STAGE2 [MODULE...]: writes DIR.cpio.gz, an initramfs
# with busybox and the modules for virtio-pci, virtio-blk, virtio-net and
# ext4 (and any MODULE named) with their dependencies, loaded in the order
# modprobe prints them; its /init loads them, runs /stage hearth.test=NAME
# of the kernel command line, where STAGE2 (a file) is /stage.
stock_initramfs() {
	local dir=$1 stage=$2 m
	shift 2
	mkdir -p "$dir"/{bin,dev,proc,sys,root,lib/modules}
	cp /bin/busybox "$dir/bin/busybox"
	: >"$dir/modules"
	# modprobe -a: several modules (without it, the rest are parameters)
	modprobe -a -S "$KVER" --show-depends virtio_pci virtio_blk virtio_net ext4 "$@" |
		awk '$1 == "insmod" { print $2 }' | while read -r m; do
		grep -qxF "$(basename "$m")" "$dir/modules" && continue
		cp "$m" "$dir/lib/modules/"
		basename "$m" >>"$dir/modules"
	done
	{ init_head; cat <<'INIT'; } >"$dir/init"
for m in $(cat /modules); do insmod "/lib/modules/$m" || echo "hearth-user: insmod $m failed"; done
exec sh /stage
INIT
	cp "$stage" "$dir/stage"
	chmod +x "$dir/init"
	(cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir.cpio.gz"
}

# gpt_disk IMG: writes a GPT (protective MBR, primary and backup headers and
# entry arrays) onto IMG, whose size is a multiple of 1 MiB, with one Linux
# file system partition from 1 MiB to the last usable sector: mke2fs -E
# offset=1048576 puts a file system there.
gpt_disk() {
	python3 - "$1" <<'PY'
import struct, sys, uuid, zlib
path = sys.argv[1]
with open(path, "r+b") as f:
    f.seek(0, 2)
    sectors = f.tell() // 512
    first_usable, last_usable = 34, sectors - 34
    entry = (uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le + uuid.uuid4().bytes_le +
             struct.pack("<QQQ", 2048, last_usable, 0) + "root".encode("utf-16-le").ljust(72, b"\0"))
    array = entry + bytes(128 * 127)
    disk_guid = uuid.uuid4().bytes_le

    def header(me, alt, entries):
        h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, me, alt,
                        first_usable, last_usable, disk_guid, entries, 128, 128, zlib.crc32(array))
        return h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]

    mbr = bytearray(512)
    mbr[446:462] = bytes([0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff]) + struct.pack("<II", 1, min(sectors - 1, 0xffffffff))
    mbr[510:512] = b"\x55\xaa"
    for off, data in ((0, bytes(mbr)), (512, header(1, sectors - 1, 2)), (1024, array),
                      ((sectors - 33) * 512, array), ((sectors - 1) * 512, header(sectors - 1, 1, sectors - 33))):
        f.seek(off)
        f.write(data)
PY
}
