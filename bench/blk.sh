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
. bench/common.sh
dir=$(mktemp -d "${IMG_DIR:-/var/tmp}/hearth-blkbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
IMG=$dir/disk.img
dd if=/dev/zero of="$IMG" bs=1M count=256 status=none conv=fsync

. bench/blkbench.sh

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

echo "hearth blk bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), TSC $((HZ / 1000000)) MHz, median of $REPEAT runs per cell" >&2
table 120 "path=$IMG,direct=on" "file=$IMG,format=raw,aio=io_uring,cache=none" "host fio"
