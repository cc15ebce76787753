# bench/blkbench.sh: what bench/blk.sh and bench/iscsi.sh share (sourced).
# The caller sources bench/common.sh, sets dir, and defines
# host MODE BS QD OPS (the host-side peer: "iops mbps cpu_us_per_io").

# guest VMM MODE BS QD OPS TIMEOUT HEARTH_DISK QEMU_DRIVE: the probe's
# blkbench on hearth (--disk HEARTH_DISK) or QEMU (q35, virtio-blk-pci on
# -drive QEMU_DRIVE); prints "iops mbps cpu_us_per_io", the CPU being that
# of the VMM's threads other than vCPUs (the guest polls) between the
# guest's "ready" line and its idling after the run.
guest() {
	local vmm=$1 mode=$2 bs=$3 qd=$4 ops=$5 res line tsc
	local args="probe.tests=blkbench,idle probe.bench=$mode probe.bs=$bs probe.qd=$qd probe.ops=$ops${WAIT:+ probe.wait=$WAIT}"
	local st=("$STAMP" --io-cpu-from "PROBE: ready" --marker "PROBE: idle" --tee "$dir/out" --timeout "$6" --)
	if [ "$vmm" = hearth ]; then
		# shellcheck disable=SC2086 # HEARTH_ARGS: words on purpose
		res=$("${st[@]}" "$H" run ${HEARTH_ARGS:-} --kernel "$PROBE" --memory 128M --disk "$7" \
			--cmdline "$args" </dev/null)
	else
		# debug-threads=on names the vCPU thread "CPU 0/KVM", which stamp
		# leaves out of the VMM's CPU (unnamed, the spinning guest counted)
		res=$("${st[@]}" qemu-system-x86_64 -name bench,debug-threads=on \
			-M q35 -enable-kvm -cpu "$QEMU_CPU" \
			-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$PROBE" -append "$args" \
			-drive "if=none,id=d0,$8" -device virtio-blk-pci,drive=d0,disable-legacy=on </dev/null)
	fi
	line=$(grep "test=blkbench .*result=pass" "$dir/out" || true)
	[ -n "$line" ] || { echo "n/a n/a n/a"; return; }
	tsc=$(sed 's/.* tsc=\([0-9]*\).*/\1/' <<<"$line")
	awk -v t="$tsc" -v hz="$HZ" -v n="$ops" -v bs="$bs" -v r="$res" 'BEGIN {
		s = t / hz; split(r, c, " ");
		printf "%.0f %.1f %.2f\n", n / s, n * bs / s / 1e6, c[5] * 1000 / n }'
}

# median: of "iops mbps cpu" lines, the one with the median IOPS among the
# runs that worked ("n/a" when none did; stderr lists every run)
median() {
	awk '$1 != "n/a" { l[++n] = $0 } END { if (!n) print "n/a n/a n/a"; else print l[int((n + 1) / 2)] }' \
		< <(sort -n -k1,1)
}

# table TIMEOUT HEARTH_DISK QEMU_DRIVE HOST_NAME: the Markdown table over
# the standard workloads (ONLY= filters rows). Runs alternate between the
# VMMs so that a slow spell of the host hits both; each cell is the median
# of REPEAT runs. Each run does the row's request count / SCALE.
table() {
	local mode bs qd ops hr qr xr hi hm hc qi qm qc xi xm xc
	echo "| workload | hearth IOPS / MB/s / CPU us per I/O | QEMU | $4 | hearth/QEMU (IOPS) | hearth/host (IOPS) |"
	echo "|---|---|---|---|---|---|"
	while read -r mode bs qd ops; do
		[[ "$mode $bs QD$qd" =~ ${ONLY:-.} ]] || continue
		ops=$(scaled "$ops")
		hr=() qr=() xr=()
		for _ in $(seq "$REPEAT"); do
			hr+=("$(guest hearth "$mode" "$bs" "$qd" "$ops" "$1" "$2" "$3")")
			qr+=("$(guest qemu "$mode" "$bs" "$qd" "$ops" "$1" "$2" "$3")")
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
}
