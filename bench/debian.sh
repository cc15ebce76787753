#!/usr/bin/env bash
# bench/debian.sh: a real distribution guest, hearth side by side with QEMU
# (Debian's qemu-system-x86, -accel kvm) in one run, printed as a Markdown
# table with hearth/QEMU ratios. The guest is the Debian 12 image of
# scripts/debian-image.sh (systemd, Debian's stock kernel and initrd; user
# root, password hearth), 2 vCPUs and 4 GiB, on a private sparse copy of
# the image per run (the guest writes to its disk), with no network.
#
#   bench/debian.sh                            # REPEAT=3 runs per peer
#   HEARTH_DEBIAN_IMAGE=IMG bench/debian.sh    # that image, not the cached one
#   HEARTH_DEBIAN_IMAGE=$(bash scripts/debian-image.sh | tail -1) \
#       scripts/box.sh --timeout 1800 -- bash bench/debian.sh    # in the box
#
# Rows, each cell the median of REPEAT runs (runs alternate between the
# VMMs): start to the login prompt on the serial console; start to the
# output of a command typed after logging in as root; the VMM's resident
# memory outside guest RAM with the guest idle at the login prompt
# (/proc/PID/smaps, in MiB and as a share of the 4 GiB guest), and the
# private part of it. bench/debian_console.py drives each run (a pty, as
# tests/linux/console_user.py does) and says what its figures are.
#
# Peers: hearth (`--disk path=COPY,direct=on`, no --kernel: the kernel and
# initrd read from inside the image, root=UUID= added); QEMU q35
# (virtio-blk-pci, cache=none, aio=io_uring); QEMU microvm (acpi=on,
# virtio-blk-device on virtio-mmio). QEMU cannot take the kernel from inside
# a disk, so /vmlinuz and /initrd.img are read out of the image with
# debugfs first and given to it with -kernel/-initrd and hearth's command
# line (console=ttyS0 reboot=k panic=-1 root=UUID=...). Where the image's
# kernel can drive no virtio-mmio device from its initrd (CONFIG_VIRTIO_MMIO
# not =y and virtio_mmio.ko not in the initrd: Debian's, whose initrd
# scripts/debian-image.sh makes with the PCI drivers only), microvm cannot
# find its root: its column says so and is not run, and microvm runs with
# `pcie=on` and virtio-blk-pci instead, in a column of its own
# (MICROVM_PCIE=1 runs that column always, MICROVM_PCIE=0 never).
#
# Every wait has a deadline (bench/debian_console.py: 30 s to the login
# prompt on a KVM host, 10-20 s for each later step) multiplied by SCALE:
# a boot cannot be divided as other scripts divide their work, so here
# SCALE says how much slower than a KVM host this one is. In the box
# (BOX=1) SCALE defaults to 10. A run past a deadline is a "timeout" in
# its cell (stderr has the tail of its console), never a hang; each VMM
# is SIGKILLed after its run. HEARTH_ARGS: extra options for hearth
# (e.g. `--seccomp off`).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -z "${BOX:-}" ] || SCALE=${SCALE:-10}
. bench/common.sh
MEM_BYTES=$((4 << 30))
say() { echo "bench/debian: $*" >&2; }

for t in debugfs python3 qemu-system-x86_64; do
	command -v $t >/dev/null || { say "$t is missing (e2fsprogs, python3, qemu-system-x86)"; exit 1; }
done
[ -x "$H" ] || { say "$H is missing: build first"; exit 1; }
QEMU_BIN=$(command -v qemu-system-x86_64)

# The image: the cached one of scripts/debian-image.sh (built here if it is
# missing, ~10 min, as root), or HEARTH_DEBIAN_IMAGE. Never built in the box:
# under emulation a build takes hours and its result is thrown away.
IMAGE=${HEARTH_DEBIAN_IMAGE:-}
if [ -z "$IMAGE" ]; then
	if [ -n "${BOX:-}" ]; then
		say "in the box the image must be named: HEARTH_DEBIAN_IMAGE=\$(bash scripts/debian-image.sh | tail -1) on the host"
		exit 1
	fi
	IMAGE=$(bash scripts/debian-image.sh | tail -1)
fi
[ -f "$IMAGE" ] || { say "no Debian image at '$IMAGE'"; exit 1; }

work=$(mktemp -d "$IMG_DIR/hearth-debian-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- what QEMU needs from inside the image (root at 1 MiB, partition 1) ----
fs="$IMAGE?offset=1048576"
dfs() { debugfs -R "$1" "$fs" 2>/dev/null; }
# resolve PATH: PATH with its symbolic links followed (Debian's /vmlinuz and
# /initrd.img point into /boot), up to 8 levels
resolve() {
	local p=$1 st t n
	for n in 1 2 3 4 5 6 7 8; do
		st=$(dfs "stat $p")
		[[ $st == *"Type: symlink"* ]] || { echo "$p"; return; }
		t=$(sed -n 's/^Fast link dest: "\(.*\)"$/\1/p' <<<"$st")
		[ -n "$t" ] || t=$(dfs "cat $p") # a link too long to live in its inode
		case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t; p=${p#/} p=/${p#/} ;; esac
	done
	return 1
}
kernel=$(resolve /vmlinuz) || { say "/vmlinuz in the image: a loop of links"; exit 1; }
initrd=$(resolve /initrd.img) || { say "/initrd.img in the image: a loop of links"; exit 1; }
dfs "dump -p $kernel $work/vmlinuz" >/dev/null
dfs "dump -p $initrd $work/initrd.img" >/dev/null
if [ ! -s "$work/vmlinuz" ] || [ ! -s "$work/initrd.img" ]; then
	say "cannot read $kernel or $initrd out of $IMAGE (debugfs)"
	exit 1
fi
uuid=$(dfs stats | sed -n 's/^Filesystem UUID: *//p')
[[ $uuid =~ ^[0-9a-f-]{36}$ ]] || { say "no file system UUID in $IMAGE at 1 MiB (debugfs stats: '$uuid')"; exit 1; }
kver=${kernel##*/vmlinuz-}
CMDLINE="console=ttyS0 reboot=k panic=-1 root=UUID=$uuid"

# Can microvm's virtio-mmio disk be the root? Built in, or a module in the
# initrd (lsinitramfs, initramfs-tools-core); "unknown" runs it and lets a
# root that never shows up say so.
mmio_cfg=$(dfs "cat /boot/config-$kver" | sed -n 's/^CONFIG_VIRTIO_MMIO=//p')
mmio_why=
case ${mmio_cfg:-unset} in
y) ;;
m)
	if ! command -v lsinitramfs >/dev/null; then
		say "no lsinitramfs: whether virtio_mmio is in the initrd is not known; microvm runs and will tell"
	elif lsinitramfs "$work/initrd.img" >"$work/initrd.list" && ! grep -q '/virtio_mmio\.ko' "$work/initrd.list"; then
		mmio_why="no root: virtio_mmio not in the initrd (CONFIG_VIRTIO_MMIO=m)"
	fi ;;
*) mmio_why="no root: the kernel has no virtio-mmio (CONFIG_VIRTIO_MMIO ${mmio_cfg:-unset})" ;;
esac
say "image $IMAGE: kernel $kernel, initrd $initrd, root UUID $uuid, CONFIG_VIRTIO_MMIO=${mmio_cfg:-unset}${mmio_why:+; microvm: $mmio_why}"

# ---- the peers ----
PEERS=(hearth q35 microvm)
case ${MICROVM_PCIE:-auto} in
1) PEERS+=(microvm-pcie) ;;
0) ;;
*) [ -z "$mmio_why" ] || PEERS+=(microvm-pcie) ;;
esac
declare -A NAME=([hearth]=hearth [q35]="QEMU q35" [microvm]="QEMU microvm"
	[microvm-pcie]="QEMU microvm, pcie=on")
QEMU_COMMON=(-cpu "$QEMU_CPU" -smp 2 -m 4G -nodefaults -no-user-config -display none
	-serial stdio -no-reboot -kernel "$work/vmlinuz" -initrd "$work/initrd.img" -append "$CMDLINE")
MICROVM="microvm,accel=kvm,acpi=on,pit=off,pic=off,isa-serial=on,rtc=on"
# argv PEER DISK: the VMM's command line for one run on DISK, one word a
# line (so that none is split on spaces)
argv() {
	local drive="file=$2,if=none,id=d,format=raw,cache=none,aio=io_uring" a
	case $1 in
	hearth)
		# shellcheck disable=SC2206 # HEARTH_ARGS: words on purpose
		a=("$H" run --disk "path=$2,direct=on" --cpus 2 --memory 4G ${HEARTH_ARGS:-}) ;;
	q35) a=("$QEMU_BIN" -machine "q35,accel=kvm" "${QEMU_COMMON[@]}" -drive "$drive" -device "virtio-blk-pci,drive=d") ;;
	microvm) a=("$QEMU_BIN" -machine "$MICROVM" "${QEMU_COMMON[@]}" -drive "$drive" -device "virtio-blk-device,drive=d") ;;
	microvm-pcie) a=("$QEMU_BIN" -machine "$MICROVM,pcie=on" "${QEMU_COMMON[@]}" -drive "$drive" -device "virtio-blk-pci,drive=d") ;;
	esac
	printf '%s\n' "${a[@]}"
}

# one PEER N: run N of PEER on a fresh copy of the image; its line
# (bench/debian_console.py) appended to $work/PEER.runs
one() {
	local peer=$1 n=$2 disk=$work/disk.img log=$work/$1-$2.console line cmd=()
	say "${NAME[$peer]} run $n/$REPEAT ..."
	cp --sparse=always "$work/master.img" "$disk"
	mapfile -t cmd < <(argv "$peer" "$disk")
	line=$(python3 bench/debian_console.py "${NAME[$peer]} run $n" "$SCALE" "$MEM_BYTES" "$log" -- "${cmd[@]}" || true)
	rm -f "$disk"
	[ -n "$line" ] || line="- - - - - error"
	echo "$line" >>"$work/$peer.runs"
	local l o r p g st
	read -r l o r p g st <<<"$line"
	say "${NAME[$peer]} run $n/$REPEAT: login prompt ${l} s, command output ${o} s, RSS outside guest RAM $(kib_mib "$r") MiB" \
		"(private $(kib_mib "$p"), guest RAM resident $(kib_mib "$g")): $st"
	if [ "$st" != ok ]; then
		say "${NAME[$peer]} run $n: the console's last lines:"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/bench\/debian:   | /' >&2
	fi
}
kib_mib() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.2f", k / 1024; else print "-" }'; }

# median PEER COLUMN: the median of the column's numbers over PEER's runs,
# nothing when no run gave one
median() {
	[ -f "$work/$1.runs" ] || return 0
	awk -v c="$2" '$c ~ /^[0-9.]+$/ { print $c }' "$work/$1.runs" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.4f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# reason STATUS: a status word of bench/debian_console.py in words
reason() {
	case $1 in
	no-root) echo "no root (the initramfs gave up)" ;;
	timeout-*) echo "timeout (${1#timeout-})" ;;
	exited-*) echo "VMM exited ${1#exited-}" ;;
	ram-mappings-*) echo "${1#ram-mappings-} RAM-sized mappings" ;;
	*) echo "$1" ;;
	esac
}
# cell PEER COLUMN KIND: the median, formatted (KIND: s, mem, mib), with
# the runs that gave no figure; or why there is none
cell() {
	local m bad total why
	if [ -n "${SKIP[$1]:-}" ]; then echo "${SKIP[$1]}"; return; fi
	m=$(median "$1" "$2")
	total=$(wc -l <"$work/$1.runs")
	bad=$(awk -v c="$2" '$c !~ /^[0-9.]+$/' "$work/$1.runs" | wc -l)
	why=$(awk -v c="$2" '$c !~ /^[0-9.]+$/ { print $6 }' "$work/$1.runs" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
	if [ -z "$m" ]; then
		echo "$(reason "$why") ($total of $total)"
		return
	fi
	case $3 in
	s) printf '%.1f' "$m" ;;
	mem) awk -v k="$m" -v ram="$MEM_BYTES" 'BEGIN { printf "%.2f (%.2f%%)", k / 1024, k * 1024 * 100 / ram }' ;;
	mib) awk -v k="$m" 'BEGIN { printf "%.2f", k / 1024 }' ;;
	esac
	[ "$bad" = 0 ] || printf ' (%s of %s: %s)' "$bad" "$total" "$(reason "$why")"
	echo
}

declare -A SKIP=()
[ -z "$mmio_why" ] || SKIP[microvm]=$mmio_why
RUN_PEERS=()
for p in "${PEERS[@]}"; do [ -n "${SKIP[$p]:-}" ] || RUN_PEERS+=("$p"); done
runs=$((REPEAT * ${#RUN_PEERS[@]}))
say "$runs runs (REPEAT=$REPEAT x ${#RUN_PEERS[@]}: ${RUN_PEERS[*]}); each copies the image, boots, logs in," \
	"logs out and samples memory: about 15 s a run on a KVM host, 60-90 s in the box" \
	"(~$((runs * 75 / 60)) min there); deadlines x$SCALE (SCALE)"
cp --sparse=always "$IMAGE" "$work/master.img"

for n in $(seq "$REPEAT"); do
	for p in "${RUN_PEERS[@]}"; do one "$p" "$n"; done
done

kvm=VMX/SVM
[ -e /sys/module/kvm_pvm ] && kvm="PVM (/sys/module/kvm_pvm)"
echo "Host: $(uname -r), $(nproc) CPUs, KVM: $kvm; $("$QEMU_BIN" --version | head -1); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "Debian 12 guest: $(basename "$IMAGE"), kernel $kver, 2 vCPUs, 4 GiB, no network; median of $REPEAT runs per cell" \
	"(runs alternate between the VMMs); QEMU -cpu $QEMU_CPU; command line \`console=ttyS0 reboot=k panic=-1 root=UUID=...\`"
echo
hdr="| Debian 12 guest, measure | hearth"
sep="|---|---"
for p in "${PEERS[@]:1}"; do hdr+=" | ${NAME[$p]}"; sep+="|---"; done
for p in "${PEERS[@]:1}"; do hdr+=" | hearth/${NAME[$p]#QEMU }"; sep+="|---"; done
echo "$hdr |"
echo "$sep|"
# row LABEL COLUMN KIND
row() {
	local p line hm
	line="| $1 | $(cell hearth "$2" "$3")"
	for p in "${PEERS[@]:1}"; do line+=" | $(cell "$p" "$2" "$3")"; done
	hm=$(median hearth "$2")
	for p in "${PEERS[@]:1}"; do
		if [ -n "${SKIP[$p]:-}" ]; then line+=" | n/a"; else line+=" | $(ratio "$hm" "$(median "$p" "$2")")"; fi
	done
	echo "$line |"
}
row "start to the login prompt (s)" 1 s
row "start to a command's output, logged in as root (s)" 2 s
row "VMM RSS outside guest RAM, idle at the login prompt (MiB, % of the 4 GiB guest)" 3 mem
row "of which private: anonymous and dirtied pages (MiB)" 4 mib
for p in "${PEERS[@]}"; do
	[ -f "$work/$p.runs" ] || continue
	say "${NAME[$p]}, per run (login s, output s, RSS KiB, private KiB, guest RAM resident KiB, status):" \
		"$(tr '\n' ';' <"$work/$p.runs" | sed 's/;$//; s/;/; /g')"
done
