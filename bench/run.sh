#!/usr/bin/env bash
# bench/run.sh: hearth side by side with QEMU (Debian's qemu-system-x86,
# -M microvm) on the same guest files, in one run, printed as a Markdown
# table with hearth/QEMU ratios. kvmtool joins the null-kernel rows when an
# lkvm binary is on PATH or named by $LKVM.
#
#   RUNS=20 LINUX_RUNS=3 bench/run.sh [--no-linux]
#   SCALE=10 bench/run.sh    # the CPU loop's iterations / 10 (bench/common.sh)
#
# Rows: null kernel (bzImage), smallest PVH guest (mini-exit) and probe guest
# (PVH ELF): process start to the guest's marker on the serial console and to
# process exit, median and min over RUNS runs; VMM resident memory outside
# guest RAM with an idle guest (/proc/PID/smaps); then lead_rows: the probe's
# CPU loop against the same loop on the host, and the Linux test guest to its
# /init (LINUX_RUNS runs, same vmlinux and initramfs).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
LINUX_RUNS=${LINUX_RUNS:-3}
linux=1
[ "${1:-}" = "--no-linux" ] && linux=0

. bench/common.sh
NULLK=$BUILD/tests/guest/null/null-bzImage
MINI=$BUILD/tests/guest/mini/mini-exit.elf
MEM=128M
MEMB=$((128 << 20))
LKVM=${LKVM:-$(command -v lkvm || true)}
NULL_MARK="HEARTH-NULL: marker"
MINI_MARK="hearth-mini: hello"

# microvm runs the bzImage's real-mode setup through its option ROM and
# boots a PVH ELF directly. The CPU model: QEMU_CPU in bench/common.sh.
QEMU=(qemu-system-x86_64 -M microvm -enable-kvm -cpu "$QEMU_CPU"
	-m "$MEM" -nodefaults -no-user-config -nographic -serial stdio -no-reboot
	-device "isa-debug-exit,iobase=0x501,iosize=1")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# stats FILE COLUMN: "median min" of a column of stamp output (ms), over the
# runs where the marker appeared.
stats() {
	awk -v c="$2" '$1 >= 0 { print $c }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f\n", m, v[1] }'
}

# series NAME RUNS MARKER STATUS -- CMD...: RUNS stamped runs into $tmp/NAME;
# a run without the marker or with another exit status is reported on stderr
# and counted in $tmp/NAME.bad (shown in the table).
series() {
	local name=$1 runs=$2 marker=$3 want=$4 bad=0 line
	shift 5
	: >"$tmp/$name"
	for _ in $(seq "$runs"); do
		line=$("$STAMP" --marker "$marker" --timeout 300 -- "$@")
		echo "$line" >>"$tmp/$name"
		read -r m _ _ st _ <<<"$line"
		if [ "$m" = "-1.000" ] || { [ "$want" != any ] && [ "$st" != "$want" ]; }; then
			bad=$((bad + 1))
			echo "bench: $name: marker_ms=$m status=$st (want $want): $*" >&2
		fi
	done
	echo "$bad" >"$tmp/$name.bad"
}


# cell NAME COLUMN: "median / min", with the failed runs if any
cell() {
	local med min bad
	read -r med min < <(stats "$tmp/$1" "$2")
	bad=$(cat "$tmp/$1.bad")
	if [ "$bad" != 0 ]; then echo "$med / $min ($bad failed)"; else echo "$med / $min"; fi
}

row() { # row LABEL HEARTH_NAME QEMU_NAME COLUMN
	local hm qm
	read -r hm _ < <(stats "$tmp/$2" "$4")
	read -r qm _ < <(stats "$tmp/$3" "$4")
	echo "| $1 | $(cell "$2" "$4") | $(cell "$3" "$4") | $(ratio "$hm" "$qm") |"
}

# rss NAME CMD...: median over 5 runs of the VMM's resident memory outside
# guest RAM (mappings smaller than guest RAM), sampled once the idle guest
# has printed its marker, in MiB.
rss() {
	: >"$tmp/$1.kib"
	for _ in 1 2 3 4 5; do
		"$STAMP" --rss-exclude $MEMB --marker "PROBE: idle" --timeout 60 -- "${@:2}" |
			awk '$3 > 0 { print $3 }' >>"$tmp/$1.kib"
	done
	sort -n "$tmp/$1.kib" | awk '{ v[NR] = $1 } END {
		if (NR == 0) print "n/a"; else printf "%.2f\n", v[int((NR + 1) / 2)] / 1024 }'
}

# ---------------------------------------------------------------------------
# lead_rows: rows that need more than the VMM start-up path (the probe's CPU
# loop, the Linux test guest). Add further rows of this kind here; each
# prints one "| label | hearth | QEMU | ratio |" line.
lead_rows() {
	# CPU loop: the probe's dec/jnz loop in the guest (CPL3) vs. on the host.
	local iters gl hl
	iters=$(scaled 1000000000)
	gl=$(for _ in 1 2 3; do "$H" run --kernel "$PROBE" --memory $MEM \
		--cmdline "probe.tests=cpuloop probe.iters=$iters" |
		sed -n 's/.*test=cpuloop .*tsc=\([0-9]*\).*/\1/p'; done | sort -n | head -1)
	hl=$(for _ in 1 2 3; do "$BUILD/bench/cpuloop" "$iters" |
		sed -n 's/.*tsc=\([0-9]*\).*/\1/p'; done | sort -n | head -1)
	echo "| CPU loop, $iters iterations (TSC cycles, best of 3): guest on hearth / host | $gl | host: $hl | guest speed $(ratio "$hl" "$gl") of host |"

	[ $linux = 1 ] || return 0
	echo "Running: Linux test guest to /init, $LINUX_RUNS runs each ..." >&2
	local dir lcmd
	dir=$(bash tests/guest/linux/build.sh | tail -1)
	lcmd="console=ttyS0 reboot=k panic=-1 noxsave"
	series h-linux "$LINUX_RUNS" "HEARTH-INIT: reached /init" any -- "$H" run \
		--kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --memory 256M --cmdline "$lcmd"
	series q-linux "$LINUX_RUNS" "HEARTH-INIT: reached /init" any -- "${QEMU[@]/$MEM/256M}" \
		-kernel "$dir/vmlinux" -initrd "$dir/initramfs.cpio" -append "$lcmd"
	row "Linux test guest (PVH vmlinux), start to /init (median / min of $LINUX_RUNS)" h-linux q-linux 1
}
# ---------------------------------------------------------------------------

kvm=VMX/SVM
[ -e /sys/module/kvm_pvm ] && kvm="PVM (/sys/module/kvm_pvm)"
echo "Host: $(uname -r), $(nproc) CPUs, KVM: $kvm; $(qemu-system-x86_64 --version | head -1);" \
	"$RUNS runs per row; $(date -u +%Y-%m-%dT%H:%MZ)"

echo "Running: null kernel, mini-exit and probe guests, $RUNS runs each ..." >&2
series h-null "$RUNS" "$NULL_MARK" 0 -- "$H" run --kernel "$NULLK" --memory $MEM
series q-null "$RUNS" "$NULL_MARK" 1 -- "${QEMU[@]}" -kernel "$NULLK"
series h-mini "$RUNS" "$MINI_MARK" 42 -- "$H" run --kernel "$MINI" --memory $MEM
series q-mini "$RUNS" "$MINI_MARK" 43 -- "${QEMU[@]}" -kernel "$MINI"
series h-probe "$RUNS" "PROBE: ready" 0 -- "$H" run --kernel "$PROBE" --memory $MEM --cmdline probe.tests=serial
series q-probe "$RUNS" "PROBE: ready" 1 -- "${QEMU[@]}" -kernel "$PROBE" -append probe.tests=serial
if [ -n "$LKVM" ]; then
	# kvmtool has no exit device: the null kernel ends in a triple fault
	series k-null "$RUNS" "$NULL_MARK" any -- "$LKVM" run -k "$NULLK" -m 128 -c 1 --console serial
fi
echo "Running: resident memory, idle probe guest, 5 runs each ..." >&2
hr=$(rss h "$H" run --kernel "$PROBE" --memory $MEM --cmdline probe.tests=idle)
qr=$(rss q "${QEMU[@]}" -kernel "$PROBE" -append probe.tests=idle)

echo
echo "| guest, measure (ms: median / min) | hearth | QEMU microvm | hearth/QEMU |"
echo "|---|---|---|---|"
row "null kernel (bzImage): start to marker" h-null q-null 1
row "null kernel (bzImage): start to exit" h-null q-null 2
row "smallest PVH guest (mini-exit): start to marker" h-mini q-mini 1
row "smallest PVH guest (mini-exit): start to exit" h-mini q-mini 2
row "probe guest (PVH): start to marker" h-probe q-probe 1
row "probe guest (PVH): start to exit" h-probe q-probe 2
if [ -n "$LKVM" ]; then
	read -r hm _ < <(stats "$tmp/h-null" 1)
	read -r km _ < <(stats "$tmp/k-null" 1)
	echo "| null kernel: start to marker, kvmtool | $(cell k-null 1) | | hearth/kvmtool $(ratio "$hm" "$km") |"
	read -r hm _ < <(stats "$tmp/h-null" 2)
	read -r km _ < <(stats "$tmp/k-null" 2)
	echo "| null kernel: start to exit, kvmtool | $(cell k-null 2) | | hearth/kvmtool $(ratio "$hm" "$km") |"
else
	echo "| null kernel, kvmtool | n/a (not installed: no lkvm on PATH or in \$LKVM) | | |"
fi
echo "| VMM RSS outside guest RAM, idle probe guest (MiB, median of 5) | $hr | $qr | $(ratio "$hr" "$qr") |"
lead_rows
