#!/usr/bin/env bash
# bench/blk.sh: virtio-blk throughput, side by side in one run: the probe
# guest's polling driver (same ELF) on hearth and on QEMU (q35,
# virtio-blk-pci, aio=io_uring, cache=none), and fio on the host, all on the
# same preallocated image file with O_DIRECT. Prints a Markdown table:
# IOPS, MB/s and host CPU time per I/O (the VMM's non-vCPU threads, or fio), with
# hearth/QEMU and hearth/host ratios.
#
#   IMG_DIR=/var/tmp bench/blk.sh      # where the 256 MiB image goes (not tmpfs)
#   REPEAT=5 bench/blk.sh               # runs per cell, median reported (default 3)
#   ONLY='randwrite 4096 QD1' bench/blk.sh   # only the rows matching a regex
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --bench
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
H=$BUILD/hearth
REPEAT=${REPEAT:-3}
PROBE=$BUILD/tests/guest/probe/probe.elf
dir=$(mktemp -d "${IMG_DIR:-/var/tmp}/hearth-blkbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
IMG=$dir/disk.img
dd if=/dev/zero of="$IMG" bs=1M count=256 status=none conv=fsync
HZ=$("$BUILD/bench/cpuloop" --tsc-hz)
STAMP=$BUILD/bench/stamp

# guest VMM MODE BS QD OPS: prints "iops mbps cpu_us_per_io", the CPU being
# that of the VMM's threads other than vCPUs (the guest polls), between the
# guest's "ready" line and its idling after the run.
guest() {
	local vmm=$1 mode=$2 bs=$3 qd=$4 ops=$5 res line tsc
	local args="probe.tests=blkbench,idle probe.bench=$mode probe.bs=$bs probe.qd=$qd probe.ops=$ops${WAIT:+ probe.wait=$WAIT}"
	local st=("$STAMP" --io-cpu-from "PROBE: ready" --marker "PROBE: idle" --tee "$dir/out" --timeout 120 --)
	if [ "$vmm" = hearth ]; then
		res=$("${st[@]}" "$H" run --kernel "$PROBE" --memory 128M --disk "path=$IMG,direct=on" \
			--cmdline "$args" </dev/null)
	else
		res=$("${st[@]}" qemu-system-x86_64 -M q35 -enable-kvm -cpu host,arch-capabilities=off \
			-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$PROBE" -append "$args" \
			-drive "if=none,id=d0,file=$IMG,format=raw,aio=io_uring,cache=none" \
			-device virtio-blk-pci,drive=d0,disable-legacy=on </dev/null)
	fi
	line=$(grep "test=blkbench .*result=pass" "$dir/out" || true)
	[ -n "$line" ] || { echo "n/a n/a n/a"; return; }
	tsc=$(sed 's/.* tsc=\([0-9]*\).*/\1/' <<<"$line")
	awk -v t="$tsc" -v hz="$HZ" -v n="$ops" -v bs="$bs" -v r="$res" 'BEGIN {
		s = t / hz; split(r, c, " ");
		printf "%.0f %.1f %.2f\n", n / s, n * bs / s / 1e6, c[5] * 1000 / n }'
}

# host MODE BS QD: fio on the same file for 3 s
host() {
	local rw
	case $1 in randread) rw=randread ;; randwrite) rw=randwrite ;; seqread) rw=read ;; seqwrite) rw=write ;; esac
	fio </dev/null --name=b --filename="$IMG" --direct=1 --rw=$rw --bs="$2" --iodepth="$3" --ioengine=io_uring \
		--runtime=3 --time_based --output-format=json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
io = j["read"] if j["read"]["io_bytes"] else j["write"]
n = io["total_ios"]; secs = j["job_runtime"] / 1000
cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100 * secs
print("%.0f %.1f %.2f" % (n / secs, io["bw_bytes"] / 1e6, cpu * 1e6 / max(n, 1)))'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "hearth blk bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), TSC $((HZ / 1000000)) MHz, median of $REPEAT runs per cell" >&2
echo "| workload | hearth IOPS / MB/s / CPU us per I/O | QEMU | host fio | hearth/QEMU (IOPS) | hearth/host (IOPS) |"
echo "|---|---|---|---|---|---|"
# median: of "iops mbps cpu" lines, the one with the median IOPS among the
# runs that worked ("n/a" when none did; stderr lists every run)
median() {
	awk '$1 != "n/a" { l[++n] = $0 } END { if (!n) print "n/a n/a n/a"; else print l[int((n + 1) / 2)] }' \
		< <(sort -n -k1,1)
}
while read -r mode bs qd ops; do
	[[ "$mode $bs QD$qd" =~ ${ONLY:-.} ]] || continue
	hr=() qr=() xr=()
	# runs alternate between the VMMs so that a slow spell of the host
	# hits both, and each cell is the median of REPEAT runs
	for _ in $(seq "$REPEAT"); do
		hr+=("$(guest hearth "$mode" "$bs" "$qd" "$ops")")
		qr+=("$(guest qemu "$mode" "$bs" "$qd" "$ops")")
		xr+=("$(host "$mode" "$bs" "$qd")")
	done
	read -r hi hm hc < <(printf '%s\n' "${hr[@]}" | median)
	read -r qi qm qc < <(printf '%s\n' "${qr[@]}" | median)
	read -r xi xm xc < <(printf '%s\n' "${xr[@]}" | median)
	echo "| $mode $((bs / 1024))k QD$qd | $hi / $hm / $hc | $qi / $qm / $qc | $xi / $xm / $xc | $(ratio "$hi" "$qi") | $(ratio "$hi" "$xi") |"
	echo "  $mode $bs QD$qd hearth IOPS: $(printf '%s ' "${hr[@]%% *}")QEMU: $(printf '%s ' "${qr[@]%% *}")host: $(printf '%s ' "${xr[@]%% *}")" >&2
done <<'ROWS'
randread 4096 1 5000
randwrite 4096 1 5000
randread 4096 32 50000
randwrite 4096 32 50000
seqread 1048576 1 512
seqwrite 1048576 1 512
ROWS
