#!/usr/bin/env bash
# bench/iscsi.sh: iSCSI disk throughput, side by side in one run on the
# same LUN of one tgtd of our own (a preallocated 256 MiB file, loopback):
# the probe guest's polling driver (same ELF) on hearth (--disk url=) and
# on QEMU (its libiscsi driver, virtio-blk-pci), and bench/iscsi_client
# (libiscsi on the host, no guest). Prints a Markdown table: IOPS, MB/s and
# host CPU per I/O (the VMM's non-vCPU threads, or the client), with
# hearth/QEMU and hearth/host ratios. tgtd's own CPU is not counted.
#
#   IMG_DIR=/var/tmp bench/iscsi.sh     # where the LUN's file goes (not tmpfs)
#   REPEAT=5 ONLY='QD32' bench/iscsi.sh # runs per cell (median; default 3), rows
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --bench
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
H=$BUILD/hearth
REPEAT=${REPEAT:-3}
PROBE=$BUILD/tests/guest/probe/probe.elf
dir=$(mktemp -d "${IMG_DIR:-/var/tmp}/hearth-iscsibench.XXXXXX")
IMG=$dir/lun.img
dd if=/dev/zero of="$IMG" bs=1M count=256 status=none conv=fsync
HZ=$("$BUILD/bench/cpuloop" --tsc-hz)
STAMP=$BUILD/bench/stamp

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CTL=$((PORT % 30000 + 1000))
IQN=iqn.2026-01.org.example.hearth:bench
A() { tgtadm -C "$CTL" --lld iscsi "$@"; }
tgtd -f -C "$CTL" --iscsi "portal=127.0.0.1:$PORT" >"$dir/tgtd.log" 2>&1 &
TGTD=$!
stop() {
	A --mode target --op delete --force --tid 1 >/dev/null 2>&1 || true
	tgtadm -C "$CTL" --mode system --op delete >/dev/null 2>&1 || true
	for _ in $(seq 50); do kill -0 "$TGTD" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$TGTD" 2>/dev/null || true
	rm -rf "$dir"
}
trap stop EXIT
for _ in $(seq 100); do A --mode target --op show >/dev/null 2>&1 && break; sleep 0.1; done
A --mode target --op new --tid 1 --targetname "$IQN"
A --mode logicalunit --op new --tid 1 --lun 1 -b "$IMG" --bsoflags direct
A --mode target --op bind --tid 1 -I ALL
URL=iscsi://127.0.0.1:$PORT/$IQN/1

# guest VMM MODE BS QD OPS: "iops mbps cpu_us_per_io" (as bench/blk.sh)
guest() {
	local vmm=$1 mode=$2 bs=$3 qd=$4 ops=$5 res line tsc
	local args="probe.tests=blkbench,idle probe.bench=$mode probe.bs=$bs probe.qd=$qd probe.ops=$ops${WAIT:+ probe.wait=$WAIT}"
	local st=("$STAMP" --io-cpu-from "PROBE: ready" --marker "PROBE: idle" --tee "$dir/out" --timeout 300 --)
	if [ "$vmm" = hearth ]; then
		res=$("${st[@]}" "$H" run ${HEARTH_ARGS:-} --kernel "$PROBE" --memory 128M --disk "url=$URL" \
			--cmdline "$args" </dev/null)
	else
		res=$("${st[@]}" qemu-system-x86_64 -M q35 -enable-kvm -cpu host,arch-capabilities=off \
			-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$PROBE" -append "$args" \
			-drive "if=none,id=d0,file=$URL,format=raw,cache=none" \
			-device virtio-blk-pci,drive=d0,disable-legacy=on </dev/null)
	fi
	line=$(grep "test=blkbench .*result=pass" "$dir/out" || true)
	[ -n "$line" ] || { echo "n/a n/a n/a"; return; }
	tsc=$(sed 's/.* tsc=\([0-9]*\).*/\1/' <<<"$line")
	awk -v t="$tsc" -v hz="$HZ" -v n="$ops" -v bs="$bs" -v r="$res" 'BEGIN {
		s = t / hz; split(r, c, " ");
		printf "%.0f %.1f %.2f\n", n / s, n * bs / s / 1e6, c[5] * 1000 / n }'
}

host() { "$BUILD/bench/iscsi_client" "$URL" "$@" 2>/dev/null || echo "n/a n/a n/a"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "hearth iSCSI bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), tgtd $(tgtd -V 2>/dev/null | head -1), TSC $((HZ / 1000000)) MHz, median of $REPEAT runs per cell" >&2
echo "| workload | hearth IOPS / MB/s / CPU us per I/O | QEMU | host libiscsi | hearth/QEMU (IOPS) | hearth/host (IOPS) |"
echo "|---|---|---|---|---|---|"
# median: as in bench/blk.sh, over the runs that worked
median() {
	awk '$1 != "n/a" { l[++n] = $0 } END { if (!n) print "n/a n/a n/a"; else print l[int((n + 1) / 2)] }' \
		< <(sort -n -k1,1)
}
while read -r mode bs qd ops; do
	[[ "$mode $bs QD$qd" =~ ${ONLY:-.} ]] || continue
	hr=() qr=() xr=()
	for _ in $(seq "$REPEAT"); do # alternating, as in bench/blk.sh
		hr+=("$(guest hearth "$mode" "$bs" "$qd" "$ops")")
		qr+=("$(guest qemu "$mode" "$bs" "$qd" "$ops")")
		xr+=("$(host "$mode" "$bs" "$qd" "$ops")")
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
