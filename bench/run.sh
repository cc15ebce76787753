#!/usr/bin/env bash
# bench/run.sh: hearth side by side with QEMU (Debian's qemu-system-x86,
# -M microvm) on the same guests, in one run, printed as a Markdown table
# with hearth/QEMU ratios. kvmtool joins the null-kernel rows when an lkvm
# binary is on PATH or in $LKVM.
#
#   RUNS=20 LINUX_RUNS=3 bench/run.sh [--no-linux]
#
# Rows: null kernel (bzImage) and probe guest (PVH ELF), process start to
# the guest's marker and to process exit, median and min over RUNS runs;
# VMM resident memory outside guest RAM with an idle guest (/proc/PID/smaps);
# the probe's CPU loop against the same loop on the host; the Linux test
# guest to its /init (LINUX_RUNS runs, same vmlinux and initramfs).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
LINUX_RUNS=${LINUX_RUNS:-3}
linux=1
[ "${1:-}" = "--no-linux" ] && linux=0

bash scripts/deps.sh --bench
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
H=$BUILD/hearth
STAMP=$BUILD/bench/stamp
NULLK=$BUILD/tests/guest/null/null-bzImage
PROBE=$BUILD/tests/guest/probe/probe.elf
MEM=128M
MEMB=$((128 << 20))
LKVM=${LKVM:-$(command -v lkvm || true)}

QEMU=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,arch-capabilities=off,kvm-pv-ipi=off
	-m $MEM -nodefaults -no-user-config -nographic -serial stdio -no-reboot
	-device isa-debug-exit,iobase=0x501,iosize=1)

# stats FILE COLUMN: "median min" of a column of stamp output (ms).
stats() {
	awk -v c="$2" '$c >= 0 { print $c }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f\n", m, v[1] }'
}

# series NAME RUNS MARKER -- CMD...: RUNS stamped runs into $tmp/NAME.
series() {
	local name=$1 runs=$2 marker=$3
	shift 4
	: >"$tmp/$name"
	for _ in $(seq "$runs"); do
		"$STAMP" --marker "$marker" --timeout 300 -- "$@" >>"$tmp/$name"
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "hearth bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs," \
	"KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), $RUNS runs" \
	"($(qemu-system-x86_64 --version | head -1))" >&2

row() { # row LABEL HEARTH_FILE PEER_FILE COLUMN
	read -r hm hn < <(stats "$2" "$4")
	read -r qm qn < <(stats "$3" "$4")
	echo "| $1 | $hm / $hn | $qm / $qn | $(ratio "$hm" "$qm") |"
}

echo "Running: null kernel and probe guest, $RUNS runs each ..." >&2
series h-null "$RUNS" "HEARTH-NULL: marker" -- "$H" run --kernel "$NULLK" --memory $MEM
series q-null "$RUNS" "HEARTH-NULL: marker" -- "${QEMU[@]}" -kernel "$NULLK"
series h-probe "$RUNS" "PROBE: ready" -- "$H" run --kernel "$PROBE" --memory $MEM --cmdline probe.tests=serial
series q-probe "$RUNS" "PROBE: ready" -- "${QEMU[@]}" -kernel "$PROBE" -append probe.tests=serial
if [ -n "$LKVM" ]; then
	series k-null "$RUNS" "HEARTH-NULL: marker" -- "$LKVM" run -k "$NULLK" -m 128 -c 1 --console serial
fi

echo
echo "| guest, measure (ms: median / min) | hearth | QEMU microvm | hearth/QEMU |"
echo "|---|---|---|---|"
row "null kernel: start to marker" "$tmp/h-null" "$tmp/q-null" 1
row "null kernel: start to exit" "$tmp/h-null" "$tmp/q-null" 2
row "probe guest (PVH): start to marker" "$tmp/h-probe" "$tmp/q-probe" 1
row "probe guest (PVH): start to exit" "$tmp/h-probe" "$tmp/q-probe" 2
if [ -n "$LKVM" ]; then
	read -r km kn < <(stats "$tmp/k-null" 1)
	read -r hm _ < <(stats "$tmp/h-null" 1)
	echo "| null kernel: start to marker, kvmtool | $km / $kn | | hearth/kvmtool $(ratio "$hm" "$km") |"
else
	echo "| null kernel, kvmtool | n/a (no lkvm on PATH or in \$LKVM) | | |"
fi

# Resident memory outside guest RAM, idle probe guest: 5 samples, median.
rss() { # rss NAME CMD...: median over 5 runs of stamp's rss column, in MiB
	: >"$tmp/$1.kib"
	for _ in 1 2 3 4 5; do
		"$STAMP" --rss-exclude $MEMB --marker "PROBE: idle" -- "${@:2}" | awk '{ print $3 }' >>"$tmp/$1.kib"
	done
	sort -n "$tmp/$1.kib" | awk '{ v[NR] = $1 } END { printf "%.2f\n", v[int((NR + 1) / 2)] / 1024 }'
}
hr=$(rss h "$H" run --kernel "$PROBE" --memory $MEM --cmdline probe.tests=idle)
qr=$(rss q "${QEMU[@]}" -kernel "$PROBE" -append probe.tests=idle)
echo "| VMM RSS outside guest RAM, idle probe guest (MiB, median of 5) | $hr | $qr | $(ratio "$hr" "$qr") |"

# CPU loop: the probe's dec/jnz loop in the guest (CPL3) vs. on the host.
ITERS=1000000000
gl=$(for _ in 1 2 3; do "$H" run --kernel "$PROBE" --memory $MEM \
	--cmdline "probe.tests=cpuloop probe.iters=$ITERS" | sed -n 's/.*test=cpuloop .*tsc=\([0-9]*\).*/\1/p'; done | sort -n | head -1)
hl=$(for _ in 1 2 3; do "$BUILD/bench/cpuloop" $ITERS | sed -n 's/.*tsc=\([0-9]*\).*/\1/p'; done | sort -n | head -1)
echo "| CPU loop, $ITERS iterations (TSC cycles, best of 3): guest / host | $gl | host: $hl | guest speed $(ratio "$hl" "$gl") of host |"

if [ $linux = 1 ]; then
	echo "Running: Linux test guest to /init, $LINUX_RUNS runs each ..." >&2
	dir=$(bash tests/guest/linux/build.sh | tail -1)
	LCMD="console=ttyS0 reboot=k panic=-1 noxsave"
	series h-linux "$LINUX_RUNS" "HEARTH-INIT: reached /init" -- "$H" run --kernel "$dir/vmlinux" \
		--initrd "$dir/initramfs.cpio" --memory 256M --cmdline "$LCMD"
	series q-linux "$LINUX_RUNS" "HEARTH-INIT: reached /init" -- "${QEMU[@]/$MEM/256M}" \
		-kernel "$dir/vmlinux" -initrd "$dir/initramfs.cpio" -append "$LCMD"
	read -r hm hn < <(stats "$tmp/h-linux" 1)
	read -r qm qn < <(stats "$tmp/q-linux" 1)
	echo "| Linux test guest (PVH vmlinux), start to /init (ms: median / min of $LINUX_RUNS) | $hm / $hn | $qm / $qn | $(ratio "$hm" "$qm") |"
fi
