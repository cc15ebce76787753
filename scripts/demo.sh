#!/usr/bin/env bash
# Installs what is needed, builds hearth, and boots the built-in default
# guest: the Linux test guest (tests/guest/linux; its kernel is built on the
# first run, ~5 minutes on 2 cores with progress shown, then cached) on 2
# vCPUs from an ext4 root disk on virtio-blk, with a second, data disk. Its
# /init checks it sees both CPUs, writes a file on the root and a pattern on
# the data disk, and hands its verdict to hearth's exit device. The console
# is shown as it happens; the disks are left in the build directory.
# On a host without a usable /dev/kvm the guest boots inside the box
# (scripts/box.sh: a KVM host under QEMU's emulation, ~10 s to start), where
# everything runs 10-50x slower: the kernel is built here first.
set -euo pipefail
cd "$(dirname "$0")/.."
box=()
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then box=(bash scripts/box.sh --timeout 900 --); fi
bash scripts/deps.sh ${box[0]:+--box}
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
dir=$(bash tests/guest/linux/build.sh | tail -1)
cp "$dir/root.ext4" "$BUILD/demo-root.img"
rm -f "$BUILD/demo-data.img"
truncate -s 64M "$BUILD/demo-data.img"
cmdline="console=ttyS0 reboot=k panic=-1 noxsave root=/dev/vda rw init=/init"
cmdline="$cmdline hearth.checks=cpus,rootfs,disk hearth.cpus=2 hearth.disk=/dev/vdb"
echo "hearth: booting the Linux test guest: $dir/vmlinux, 2 vCPUs, 256 MiB," \
	"root $BUILD/demo-root.img (vda), data $BUILD/demo-data.img (vdb)" >&2
timeout=180s
if [ ${#box[@]} -gt 0 ]; then
	echo "hearth: /dev/kvm is not usable here: booting in the box (~10 s to start it, then ~20-60 s to /init under emulation)" >&2
	timeout=600s
elif [ -e /sys/module/kvm_pvm ]; then
	echo "hearth: (PVM host: the guest kernel runs emulated; ~15 s to /init)" >&2
fi
set -x
status=0
"${box[@]}" "$BUILD/hearth" run --kernel "$dir/vmlinux" --cpus 2 --memory 256M \
	--disk "path=$BUILD/demo-root.img" --disk "path=$BUILD/demo-data.img,serial=demo-data" \
	--cmdline "$cmdline" --timeout "$timeout" --log-level info || status=$?
{ set +x; } 2>/dev/null
case $status in
0) echo "hearth exited with status 0: the guest's /init passed its checks and reported success" ;;
124) echo "hearth exited with status 124: the guest did not finish within --timeout" ;;
21[0-2]) echo "the box could not run hearth (status $status; see the box: line above and docs/testing.md)" ;;
*) echo "hearth exited with status $status (see docs/exit-codes.md)" ;;
esac
exit $status
