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
#   HOST_SPIN=1 bench/iscsi.sh          # the host client with one core kept busy
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
dir=$(mktemp -d "${IMG_DIR:-/var/tmp}/hearth-iscsibench.XXXXXX")
IMG=$dir/lun.img
dd if=/dev/zero of="$IMG" bs=1M count=256 status=none conv=fsync

# the target listens on 127.0.0.1: a fresh network namespace or a box may
# have its loopback interface down (then every cell would be n/a)
ip link set lo up 2>/dev/null || true
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
python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)' "$PORT" ||
	{ echo "bench: cannot connect to tgtd at 127.0.0.1:$PORT (is lo up?)" >&2; cat "$dir/tgtd.log" >&2; exit 1; }

. bench/blkbench.sh

# HOST_SPIN=1: a busy loop holds one core while the host client runs, as
# the probe guest's polling vCPU does for both VMMs: the client then has
# the same CPU left for itself and the target as the VMMs have.
host() {
	local spin=
	if [ -n "${HOST_SPIN:-}" ]; then
		awk 'BEGIN { while (1); }' >/dev/null </dev/null &
		spin=$!
	fi
	"$BUILD/bench/iscsi_client" "$URL" "$@" 2>/dev/null || echo "n/a n/a n/a"
	[ -z "$spin" ] || kill "$spin"
}

echo "hearth iSCSI bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), tgtd $(tgtd -V 2>/dev/null | head -1), TSC $((HZ / 1000000)) MHz, median of $REPEAT runs per cell" >&2
table 300 "url=$URL" "file=$URL,format=raw,cache=none" "host libiscsi${HOST_SPIN:+, one core busy}"
