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

# gpt_disk IMG: a GPT with one Linux partition from 1 MiB (scripts/gpt.py).
gpt_disk() { python3 "$(dirname "${BASH_SOURCE[0]}")/../../scripts/gpt.py" "$1"; }
