#!/usr/bin/env bash
# hearth's virtio-blk device and block backends without a guest, so the disk
# data path is checked also where /dev/kvm is not usable: tests/host/blk_dev
# runs the device on hearth's I/O loop and plays the driver (4 KiB writes of
# a pattern in a shuffled order, 16 in flight, a FLUSH, every block read
# back and compared, GET_ID). Afterwards the host reads the disk and checks
# every block byte for byte. A file through each engine (io_uring, libaio,
# plain system calls; io_uring with O_DIRECT too; the kicks a polled queue
# asks for), then LUNs of 512- and
# 4096-byte blocks on a tgtd of the test's own (skipped where tgtd cannot
# run).
. "$(dirname "$0")/lib.sh"

# disk_holds FILE SEED BLOCKS: whether FILE starts with blk_dev's pattern
disk_holds() {
	python3 - "$@" <<'PY'
import struct, sys
path, seed, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
    for b in range(blocks):
        words = struct.unpack("<1024I", f.read(4096))
        if any(v != (seed * 2654435761 + b * 1024 + w) & 0xFFFFFFFF for w, v in enumerate(words)):
            print(f"block {b} differs")
            sys.exit(1)
PY
}

# check DISK HOSTFILE SEED LABEL [direct]: one blk_dev run and the host's look
check() {
	local disk=$1 file=$2 seed=$3 what=$4
	shift 4
	expect_exit 0 "$what: 2048 blocks written, flushed, read back" -- "$BLK_DEV" "$disk" 2048 "$seed" "$@"
	expect_grep "$TMP/out" "^blk_dev [a-z_]+: 2048 blocks written, flushed, read back: 0 bad" \
		"$what: every block came back as written"
	sed 's/^/# /' "$TMP/out"
	if disk_holds "$file" "$seed" 2048 >"$TMP/host" 2>&1; then
		ok "$what: the host reads the same blocks"
	else
		not_ok "$what: the host reads otherwise: $(cat "$TMP/host")"
	fi
}

truncate -s 16M "$TMP/disk.img"
seed=1
for engine in io_uring libaio sync; do
	HEARTH_BLK_ENGINE=$engine check "$TMP/disk.img" "$TMP/disk.img" $seed "file, $engine"
	expect_grep "$TMP/out" "^blk_dev $engine:" "the $engine engine was used"
	seed=$((seed + 1))
done
# O_DIRECT needs a file system that does it: tmpfs (a common /tmp) does not
# on Linux 6.1, so the image goes to the first directory that does.
direct_dir=
for d in "$TMP" /var/tmp; do
	if dd if=/dev/zero of="$d/direct-probe.$$" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
		direct_dir=$d
		rm -f "$d/direct-probe.$$"
		break
	fi
	rm -f "$d/direct-probe.$$"
done
if [ -n "$direct_dir" ]; then
	dimg=$(mktemp "$direct_dir/hearth-direct.XXXXXX")
	trap 'rm -f "$dimg"; rm -rf "$TMP"' EXIT
	truncate -s 16M "$dimg"
	HEARTH_BLK_ENGINE=io_uring check "$dimg" "$dimg" $seed "file, io_uring, O_DIRECT" direct
	rm -f "$dimg"
else
	not_ok "file, io_uring, O_DIRECT: neither $TMP nor /var/tmp can do O_DIRECT here"
fi

# While the I/O thread polls the queue, the device asks for no kicks: with a
# poll budget longer than the run, the driver kicks once, to wake the loop
# at the start (asking for a kick at each request taken, it kicked hundreds
# of times)
BLK_DEV_POLL_US=1000000 HEARTH_BLK_ENGINE=io_uring check "$TMP/disk.img" "$TMP/disk.img" 9 "file, io_uring, polled"
kicks=$(sed -n 's/.* \([0-9]*\) kicks$/\1/p' "$TMP/out")
if [ -n "$kicks" ] && [ "$kicks" -le 2 ]; then
	ok "polled: the driver kicked $kicks times for 4098 requests"
else
	not_ok "polled: the driver kicked ${kicks:-?} times for 4098 requests"
fi

if have_tgt; then
	tgt_init
	truncate -s 16M "$TMP/lun512.img" "$TMP/lun4k.img"
	start_tgtd
	target 1 b512 "$TMP/lun512.img"
	target 2 b4k "$TMP/lun4k.img" --blocksize 4096
	check "iscsi://127.0.0.1:$PORT/$IQN:b512/1" "$TMP/lun512.img" 11 "iSCSI, 512-byte blocks"
	check "iscsi://127.0.0.1:$PORT/$IQN:b4k/1" "$TMP/lun4k.img" 12 "iSCSI, 4096-byte blocks"
	expect_grep "$TMP/out" "^blk_dev libiscsi:" "the iSCSI engine was used"
else
	echo "# tgtd cannot run here (not installed, or not root): the iSCSI part is left out"
fi
finish
