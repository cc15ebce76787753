#!/usr/bin/env bash
# stock_acpi.sh CPUS: Debian's stock kernel booted as users boot it: ACPI
# on and no workaround on its command line (no pci=noacpi, no reboot=).
# It must find the PCI root bus through the DSDT, its virtio disk and NIC,
# switch to its root on the virtio disk (ext4, made here), bring the NIC's
# link up, write to /dev/ttyS0 from user space (which needs COM1's
# interrupt routed: the UART's transmit interrupt), and power off (exit 0)
# when hearth is asked to stop it: it presses the ACPI power button (the
# SCI, PM1 status and enable), which Linux's button driver turns into a
# KEY_POWER event that this init waits for, as systemd-logind would.
# 1 vCPU: asked by SIGTERM, the kernel and initrd given with --kernel and
# --initrd, the root a whole-disk ext4 named root=/dev/vda. 2 vCPUs: asked
# by `hearth ctl SOCKET shutdown`, booted as `hearth run --disk path=IMAGE`
# with no --kernel: the image is a GPT disk whose ext4 partition holds the
# kernel and initrd behind Debian's /vmlinuz and /initrd.img links, and
# hearth adds root=UUID= of that partition, which the initramfs resolves.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/stock_lib.sh"
require_kvm
stock_pick
cpus=${1:-1}
command -v mke2fs >/dev/null || { echo "SKIP: no mke2fs"; exit 77; }
tap_netns 169.254.78.1/16

# stage 2, on the ext4 root: every line it prints is checked below
mkdir -p "$TMP/rootfs"/{bin,dev,proc,sys,sbin}
cp /bin/busybox "$TMP/rootfs/bin/busybox"
token=root-$$-$RANDOM
echo "$token" >"$TMP/rootfs/token"
{ init_head; cat <<'INIT'; } >"$TMP/rootfs/sbin/init"
say() { echo "hearth-user: $*" >/dev/ttyS0; }
say "root $(awk '$2 == "/" && $1 != "rootfs" { print $1, $3 }' /proc/mounts) token $(cat /token)"
say "cpus $(grep -c ^processor /proc/cpuinfo)"
say "pci $(ls /sys/bus/pci/devices | tr '\n' ' ')"
ip link set eth0 up
for i in $(seq 50); do [ "$(cat /sys/class/net/eth0/operstate)" = up ] && break; sleep 0.2; done
say "eth0 $(cat /sys/class/net/eth0/address) $(cat /sys/class/net/eth0/operstate)"
say "ttyS0 irq $(cat /sys/class/tty/ttyS0/irq)"
for ev in /sys/class/input/event*; do
	[ "$(cat "$ev/device/name")" = "Power Button" ] && btn=/dev/input/${ev##*/}
done
# open the event device before saying so: evdev keeps no event for a
# reader that opens it after the press
[ -n "$btn" ] && exec 3<"$btn"
say "done; waiting for the power button on ${btn:-nothing}"
# one input_event (24 bytes on x86-64): the button's KEY_POWER press
[ -n "$btn" ] && dd of=/dev/null bs=24 count=1 <&3 2>/dev/null && say "power button pressed"
poweroff -f
INIT
chmod +x "$TMP/rootfs/sbin/init"

# the initramfs: waits for its root (root= of the command line, a
# root=UUID= resolved by findfs), mounts it and switches to it
cat >"$TMP/stage" <<'STAGE'
root=/dev/vda
for a in $(cat /proc/cmdline); do case $a in root=*) root=${a#root=} ;; esac; done
for i in $(seq 100); do
	case $root in UUID=*) dev=$(findfs "$root" 2>/dev/null) ;; *) dev=$root ;; esac
	[ -n "$dev" ] && [ -b "$dev" ] && break
	sleep 0.1
done
mount -t ext4 "$dev" /root || { echo "hearth-user: no root $root ($dev)"; ls /sys/bus/pci/devices; poweroff -f; }
umount /proc /sys /dev
exec switch_root /root /sbin/init
STAGE
stock_initramfs "$TMP/initrd" "$TMP/stage" button evdev

uuid=$(cat /proc/sys/kernel/random/uuid)
truncate -s 64M "$TMP/root.img"
if [ "$cpus" = 1 ]; then
	mke2fs -q -t ext4 -d "$TMP/rootfs" "$TMP/root.img"
	CMD="console=ttyS0 root=/dev/vda"
	CMD_SEEN=$CMD
	ROOTDEV=/dev/vda
	BOOT=(--kernel "$KERNEL" --initrd "$TMP/initrd.cpio.gz" --cmdline "$CMD")
else
	# Debian's layout: the files in /boot, relative links at the top
	mkdir -p "$TMP/rootfs/boot"
	cp "$KERNEL" "$TMP/rootfs/boot/vmlinuz-$KVER"
	cp "$TMP/initrd.cpio.gz" "$TMP/rootfs/boot/initrd.img-$KVER"
	ln -s "boot/vmlinuz-$KVER" "$TMP/rootfs/vmlinuz"
	ln -s "boot/initrd.img-$KVER" "$TMP/rootfs/initrd.img"
	gpt_disk "$TMP/root.img"
	mke2fs -q -t ext4 -U "$uuid" -E offset=1048576 -d "$TMP/rootfs" "$TMP/root.img" 60M
	CMD="console=ttyS0"
	CMD_SEEN="$CMD root=UUID=$uuid"
	ROOTDEV=/dev/vda1
	BOOT=(--cmdline "$CMD" --log-level info)
fi

L=$TMP/console.log
SOCK=$TMP/api.sock
"${NX[@]}" "$HEARTH" run "${BOOT[@]}" --cpus "$cpus" \
	--memory 512M --disk "path=$TMP/root.img" --net tap=htap0,mac=52:54:00:12:34:78 \
	--timeout 90s --shutdown-timeout 60s --api-socket "$SOCK" \
	--console "file:$L" >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
for _ in $(seq "$(scaled 600)"); do
	grep -q "^hearth-user: done" "$L" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.5
done
if [ "$cpus" = 1 ]; then
	how=SIGTERM
	kill -TERM "$pid" 2>/dev/null
else
	how="hearth ctl shutdown"
	"$HEARTH" ctl "$SOCK" shutdown || not_ok "hearth ctl shutdown failed"
fi
got=0
wait "$pid" || got=$?
if [ "$got" = 0 ]; then
	ok "stock kernel, ACPI on, $cpus vCPU(s): boots to its virtio root and powers off on $how (exit 0)"
else
	not_ok "stock kernel, ACPI on, $cpus vCPU(s): exit $got, not 0, after $how"
	sed 's/^/#   /' "$TMP/err" | tail -5
fi
expect_grep "$TMP/err" "asking the guest to shut down \(ACPI power button\)" "hearth pressed the power button"
expect_grep "$L" "Command line: $CMD_SEEN[[:cntrl:]]*\$" "our exact command line, no workaround"
expect_grep "$L" "ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00\]\)" "the PCI root bridge from the DSDT"
expect_grep "$L" "virtio_blk virtio[0-9]+: \[vda\]" "the virtio disk"
expect_grep "$L" "^hearth-user: root $ROOTDEV ext4 token $token" "user space runs from the ext4 root on virtio-blk"
if [ "$cpus" != 1 ]; then
	expect_grep "$TMP/err" "kernel from the disk image: .*root.img \(partition 1: /vmlinuz\), with its initrd" \
		"hearth took the kernel and initrd from the image's partition"
	expect_grep "$L" "vda: vda1" "the guest sees the GPT partition"
fi
expect_grep "$L" "^hearth-user: cpus $cpus" "all $cpus vCPU(s)"
expect_grep "$L" "^hearth-user: pci 0000:00:00.0 0000:00:01.0 0000:00:02.0 0000:00:03.0 " "the bridge and three virtio functions"
expect_grep "$L" "^hearth-user: eth0 52:54:00:12:34:78 up" "the NIC, its link up"
expect_grep "$L" "^hearth-user: ttyS0 irq 4" "COM1 on IRQ 4"
expect_grep "$L" "^hearth-user: done; waiting for the power button on /dev/input/event" "user space found the ACPI power button"
expect_grep "$L" "^hearth-user: power button pressed" "the press reached user space as an input event"
expect_grep "$L" "reboot: Power down" "the kernel powered off"
if [ "$FAILS" != 0 ]; then grep -v "^\[" "$L" | tail -20 | sed 's/^/#   /'; tail -40 "$L" | sed 's/^/#   /'; fi
finish
