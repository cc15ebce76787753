#!/usr/bin/env bash
# box.sh: runs a command where /dev/kvm works, on a host that has none.
#
#   scripts/box.sh [--timeout SECONDS] [--cpus N] [--memory SIZE] [--] COMMAND [ARG...]
#
# The box is a QEMU virtual machine under software emulation (TCG, -cpu max:
# an AMD CPU with SVM and nested paging) running Debian's stock kernel, whose
# kvm_amd module gives a real /dev/kvm. Its root is this host's own file
# system, read-only over virtio-9p with a throw-away tmpfs layer on top, so
# every program installed here is there too and nothing the box writes
# reaches the host, except in this checkout, which is handed in writable at
# its own path (build directories, test logs and bench tables come back out).
# /tmp in the box is a scratch ext4 disk (O_DIRECT works there, unlike
# tmpfs). The command runs as root in the caller's directory with the
# caller's environment; its stdout and stderr are streamed to this script's
# stdout as it runs; its stdin is /dev/null. docs/testing.md says more.
#
# Exit status: the command's own, or
#   2    bad usage of box.sh
#   210  the box cannot start (no QEMU, no kernel, initramfs not built)
#   211  the box died before the command finished, or stopped responding
#        (no heartbeat for BOX_STALL_S, default 300 s); its kernel log is kept
#   212  the box's time limit (--timeout) passed
# with one line on stderr starting "box:" saying which.
#
# Needs qemu-system-x86, linux-image-amd64, busybox-static, cpio and kmod
# (scripts/deps.sh --box installs them; this script runs it when one is
# missing). Boxes take a host-wide lock: one runs at a time, the next waits
# (BOX_CACHE, default ~/.cache/hearth/box, holds the lock and the initramfs).
set -euo pipefail

BOX_START_FAIL=210
BOX_DIED=211
BOX_TIMEOUT=212

die_usage() { echo "box: $* (usage: scripts/box.sh [--timeout SECONDS] [--cpus N] [--memory SIZE] [--] COMMAND [ARG...])" >&2; exit 2; }
die_start() { echo "box: cannot start: $*" >&2; exit $BOX_START_FAIL; }

timeout_s=${BOX_TIMEOUT_S:-3600}
cpus=${BOX_CPUS:-2}
memory=${BOX_MEMORY:-8G}
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) [ $# -ge 2 ] || die_usage "--timeout needs a value"; timeout_s=$2; shift 2 ;;
	--cpus) [ $# -ge 2 ] || die_usage "--cpus needs a value"; cpus=$2; shift 2 ;;
	--memory) [ $# -ge 2 ] || die_usage "--memory needs a value"; memory=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die_usage "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || die_usage "no command given"
[[ $timeout_s =~ ^[1-9][0-9]*$ ]] || die_usage "--timeout must be a whole number of seconds, not '$timeout_s'"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die_usage "--cpus must be a positive number, not '$cpus'"
[[ $memory =~ ^[1-9][0-9]*[MG]$ ]] || die_usage "--memory must look like 8G or 4096M, not '$memory'"

here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/.." && pwd)
cache=${BOX_CACHE:-${HEARTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth}/box}

# What the box is made of: installed Debian packages, nothing downloaded.
qemu=${BOX_QEMU:-qemu-system-x86_64}
need_pkgs() {
	command -v "$qemu" >/dev/null && [ -x /bin/busybox ] && command -v cpio >/dev/null &&
		command -v modprobe >/dev/null && ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1
}
if ! need_pkgs; then
	bash "$here/deps.sh" --box >&2 || die_start "scripts/deps.sh --box failed"
	need_pkgs || die_start "QEMU ($qemu), busybox-static, cpio, kmod or linux-image-amd64 is missing"
fi

# The newest installed Debian kernel that has its modules.
kver=
for k in $(ls /boot/vmlinuz-*-amd64 | sed 's|^/boot/vmlinuz-||' | sort -V); do
	[ -d "/lib/modules/$k/kernel" ] && kver=$k
done
[ -n "$kver" ] || die_start "no /boot/vmlinuz-*-amd64 with modules in /lib/modules"
[ -r "/boot/vmlinuz-$kver" ] || die_start "/boot/vmlinuz-$kver is not readable"

# The box's /init: mounts the host's root under a tmpfs overlay, the
# checkout and the exchange share at their places, and runs the command.
# Its text is part of the initramfs's cache key.
read -r -d '' BOX_INIT <<'INIT' || true
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() { echo "box-init: $*"; echo o >/proc/sysrq-trigger; poweroff -f; }
while read -r m; do insmod "/mod/$m" || fail "insmod $m"; done </modules.order
o9p="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /lower /rw /root /xfer
mount -t 9p -o "$o9p,cache=loose,ro" hostroot /lower || fail "cannot mount the host's root"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /root || fail "overlay"
mount -t 9p -o "$o9p,cache=none" xfer /xfer || fail "cannot mount the exchange share"
mount -t ext4 /dev/vda /root/tmp || fail "cannot mount the scratch disk"
chmod 1777 /root/tmp
checkout=$(cat /xfer/checkout)
mkdir -p "/root$checkout"
mount -t 9p -o "$o9p,cache=mmap" checkout "/root$checkout" || fail "cannot mount the checkout"
mount -t proc proc /root/proc
mount -t sysfs sys /root/sys
mount -t devtmpfs dev /root/dev
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /root/dev/pts
mount -t tmpfs shm /root/dev/shm
ln -sf /proc/self/fd /root/dev/fd
ln -sf /proc/self/fd/0 /root/dev/stdin
ln -sf /proc/self/fd/1 /root/dev/stdout
ln -sf /proc/self/fd/2 /root/dev/stderr
mount -t cgroup2 cgroup2 /root/sys/fs/cgroup 2>/dev/null
mount -t tmpfs -o mode=0755 run /root/run
mkdir -p /root/run/box
mount --bind /xfer /root/run/box
echo "box-init: running the command" >/dev/ttyS0
# The overlay becomes the mount namespace's root (as switch_root does),
# not a chroot: the kernel refuses a user namespace to a chrooted
# process, and hearth's rootless jail makes one. This shell keeps the
# initramfs as its own root, so /xfer stays in reach for the status.
cd /root && mount --move . / || fail "cannot move the root"
chroot . /bin/bash /run/box/run.sh </dev/null >/dev/hvc0 2>&1
echo $? >/xfer/status.tmp && mv /xfer/status.tmp /xfer/status
sync
chroot . umount /run/box "$checkout" 2>/dev/null
umount /xfer 2>/dev/null
poweroff -f
INIT

# One box at a time on this host: two emulated CPUs are all it has. The
# lock also covers building the initramfs, so two first runs cannot mix.
mkdir -p "$cache"
exec 9>"$cache/lock"
if ! flock -n 9; then
	echo "box: another box is running on this host; waiting for it" >&2
	flock 9
fi

boxkey=$( (echo "$kver"; echo "$BOX_INIT") | sha256sum | cut -c1-16)
initrd=$cache/initrd-$kver-$boxkey.cpio.gz
mods=(virtio_pci virtio_console virtio_blk 9pnet_virtio 9p overlay ext4)
if [ ! -f "$initrd" ]; then
	echo "box: building the box's initramfs for $kver (a few seconds, once)" >&2
	mkdir -p "$cache"
	stage=$(mktemp -d "$cache/.initrd.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{bin,dev,proc,sys,mod}
	cp /bin/busybox "$stage/bin/busybox"
	printf '%s\n' "$BOX_INIT" >"$stage/init"
	chmod 755 "$stage/init"
	: >"$stage/modules.order"
	for m in "${mods[@]}"; do
		modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' >"$stage/ko.list"
	while read -r ko; do
		name=$(basename "$ko")
		case $ko in
		*.ko) cp "$ko" "$stage/mod/$name" || die_start "cannot copy $ko" ;;
		*.ko.xz) xz -dc "$ko" >"$stage/mod/${name%.xz}"; name=${name%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" >"$stage/mod/${name%.zst}"; name=${name%.zst} ;;
		*) continue ;;
		esac
		echo "$name" >>"$stage/modules.order"
	done <"$stage/ko.list"
	rm -f "$stage/ko.list"
	[ -s "$stage/modules.order" ] || die_start "no modules found for $kver (modprobe --show-depends)"
	part=$(mktemp "$initrd.XXXXXX")
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$part" || die_start "cpio failed"
	mv "$part" "$initrd"
	rm -rf "$stage"
	trap - EXIT
fi

case $checkout in *,*) die_start "the checkout's path holds a comma, which QEMU's -virtfs cannot take: $checkout" ;; esac
xfer=$(mktemp -d "${TMPDIR:-/tmp}/hearth-box.XXXXXX")
case $xfer in *,*) die_start "TMPDIR holds a comma, which QEMU's options cannot take: $xfer" ;; esac
cleanup() { rm -rf "$xfer"; }
trap cleanup EXIT
echo "$checkout" >"$xfer/checkout"
# The command's environment: the caller's, less what describes this shell.
{
	export -p | grep -Ev '^declare -x (BASH_[A-Z_]*|SHLVL|OLDPWD|PWD|TMPDIR|_)(=|$)' || true
	echo "export BOX=1"
	printf 'cd %q || exit 1\n' "$PWD"
	echo 'modprobe -a kvm_amd tun loop veth 2>/dev/null || echo "box: modprobe kvm_amd tun loop veth failed" >&2'
	# /dev/kvm as Debian's udev leaves it (no udev in the box): group kvm,
	# 0660, so a user in that group can run hearth (the rootless jail test)
	echo 'getent group kvm >/dev/null && chgrp kvm /dev/kvm && chmod 0660 /dev/kvm'
	echo 'ip link set lo up || echo "box: cannot bring the loopback interface up" >&2'
	# One idle VM held open for the whole run: KVM live-patches a static
	# branch when the number of VMs goes 0 -> 1 and 1 -> 0, and under TCG
	# that was seen to freeze both box CPUs when tests created and
	# destroyed VMs in parallel. The command starts only once that VM
	# exists: a hearth starting alongside the holder's creation froze a
	# box the same way (seen on a CI machine).
	echo 'rm -f /run/box-holder'
	echo 'python3 -c "import os, fcntl, signal; k = os.open(\"/dev/kvm\", os.O_RDWR); fcntl.ioctl(k, 0xAE01, 0); open(\"/run/box-holder\", \"w\").close(); signal.pause()" 2>/dev/null &'
	echo 'holder=$!'
	echo 'for i in $(seq 1200); do [ -e /run/box-holder ] && break; kill -0 $holder 2>/dev/null || break; sleep 0.1; done'
	echo '[ -e /run/box-holder ] || echo "box: no idle VM could be held open (is /dev/kvm usable?); VMs created in parallel may freeze the box" >&2'
	# A heartbeat the host watches: a box whose kernel froze without a
	# panic (both CPUs stuck, seen under TCG) stops writing it, and the
	# host stops such a box as dead instead of waiting out its time limit.
	echo '( while :; do date +%s >/run/box/heartbeat; sleep 5; done ) </dev/null >/dev/null 2>&1 &'
	echo 'beat=$!'
	# Inside, the command's output is a console (a tty); where the caller's
	# is not one, a pipe stands between, so that programs print for a log.
	if [ -t 1 ]; then
		printf '%q ' "$@"
		echo
		echo 'status=$?'
	else
		printf '%q ' "$@"
		echo '2>&1 | cat'
		echo 'status=${PIPESTATUS[0]}'
	fi
	echo 'kill $holder $beat 2>/dev/null; wait $holder $beat 2>/dev/null'
	echo 'exit $status'
} >"$xfer/run.sh"

# A sparse scratch disk for the box's /tmp, made anew each run.
truncate -s 64G "$xfer/scratch.img"
mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 -O ^has_journal "$xfer/scratch.img" ||
	die_start "mkfs.ext4 failed on the scratch disk"

log=$xfer/console.log
keep_log() { cp "$log" "$cache/console.log" 2>/dev/null || true; }
echo "box: starting ($kver under QEMU TCG, $cpus CPUs, $memory; ~10 s to the command, limit ${timeout_s} s)" >&2
qstatus=0
timeout -k 10 "$timeout_s" "$qemu" \
	-accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory" \
	-nodefaults -display none -no-reboot \
	-kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=4 rdinit=/init" \
	-serial "file:$log" \
	-device virtio-serial-pci -chardev stdio,id=out,signal=off -device virtconsole,chardev=out \
	-drive "file=$xfer/scratch.img,if=virtio,format=raw,cache=unsafe,discard=unmap" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$checkout,mount_tag=checkout,security_model=none,multidevs=remap" \
	-virtfs "local,path=$xfer,mount_tag=xfer,security_model=none" \
	</dev/null &
qpid=$!
# The watchdog: once the command has started, its heartbeat (above) must
# stay fresher than BOX_STALL_S (default 300 s; it is written every 5 s);
# before that, the box has BOX_STALL_S from its start to begin.
stall_s=${BOX_STALL_S:-300}
started=$(date +%s)
stalled=
while kill -0 "$qpid" 2>/dev/null; do
	sleep 5
	now=$(date +%s)
	last=$(stat -c %Y "$xfer/heartbeat" 2>/dev/null || echo "$started")
	if [ $((now - last)) -gt "$stall_s" ] && [ ! -f "$xfer/status" ]; then
		stalled=$((now - last))
		kill "$qpid" 2>/dev/null || true
		break
	fi
done
wait "$qpid" || qstatus=$?
if [ -n "$stalled" ]; then
	keep_log
	why=$(grep -aE 'Kernel panic|BUG:|Oops|corrupted|watchdog: |rcu: INFO' "$log" 2>/dev/null | head -1 | tr -d '\r' | cut -c1-160 || true)
	echo "box: the box stopped responding (no heartbeat for ${stalled} s${why:+; its kernel said: $why}); it was stopped as dead (its kernel log: $cache/console.log)" >&2
	exit $BOX_DIED
fi
if [ $qstatus = 124 ] || [ $qstatus = 137 ]; then
	keep_log
	echo "box: the time limit of ${timeout_s} s passed; the box was stopped (its kernel log: $cache/console.log)" >&2
	exit $BOX_TIMEOUT
fi
if [ ! -f "$xfer/status" ]; then
	keep_log
	why=$(grep -aE 'box-init:|Kernel panic|BUG:|Oops|corrupted|watchdog: ' "$log" 2>/dev/null | grep -v 'running the command' | head -1 | tr -d '\r' | cut -c1-160 || true)
	echo "box: the box died before the command finished (QEMU status $qstatus${why:+; its kernel said: $why}; its kernel log: $cache/console.log)" >&2
	exit $BOX_DIED
fi
exit "$(cat "$xfer/status")"
