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

	# The target frozen (SIGSTOP), then killed and restarted, under a
	# stream of writes with timeout=2s. blk_dev keeps the host's bytes of
	# each block at the moment a write to it is told it failed, never
	# writes that block again, and checks at the end (and after a grace
	# period) that those bytes never changed and that every other block
	# holds the last version it was told was written: nothing of a failed
	# write may land after the failure was reported.
	truncate -s 4M "$TMP/churn.img"
	target 3 churn "$TMP/churn.img"
	# (libiscsi's reconnect drops a PDU or two of the old session without
	# freeing them, its code, not ours: not counted under LeakSanitizer)
	printf 'leak:libiscsi.so\n' >"$TMP/lsan.supp"
	LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TMP/lsan.supp \
		BLK_DEV_ISCSI_TIMEOUT_MS=2000 "$BLK_DEV" "iscsi://127.0.0.1:$PORT/$IQN:churn/1" 1024 21 \
		churn "$TMP/churn.img" "$TMP/stop" >"$TMP/churn.out" 2>"$TMP/churn.err" &
	churn=$!
	for _ in $(seq "$(scaled 300)"); do # until the writes are under way
		[ "$(tr -d '\0' <"$TMP/churn.img" | head -c 1 | wc -c)" = 1 ] && break
		sleep 0.1
	done
	sleep 1
	kill -STOP "$TGTD"
	sleep 6 # past timeout=2s and the 250 ms tick: the writes time out frozen
	kill -CONT "$TGTD"
	sleep 2
	kill -9 "$TGTD"
	wait "$TGTD" 2>/dev/null || true
	sleep 6 # the writes time out while libiscsi reconnects
	start_tgtd
	target 1 b512 "$TMP/lun512.img"
	target 2 b4k "$TMP/lun4k.img" --blocksize 4096
	target 3 churn "$TMP/churn.img"
	for _ in $(seq "$(scaled 300)"); do
		grep -q "reconnect was successful" "$TMP/churn.err" && break
		sleep 0.1
	done
	sleep 2 # and writes again on the new session
	touch "$TMP/stop"
	got=0
	wait "$churn" || got=$?
	sed 's/^/# /' "$TMP/churn.out"
	grep -v "^blk_dev: block" "$TMP/churn.err" | sed 's/^/# /' | tail -8
	if [ "$got" = 0 ]; then
		ok "iSCSI frozen and killed under writes: the LUN holds what each write was told"
	else
		not_ok "iSCSI frozen and killed under writes: exit $got"
		grep "^blk_dev: block" "$TMP/churn.err" | head -10 | sed 's/^/#   /'
	fi
	expect_grep "$TMP/churn.out" "^blk_dev churn libiscsi: [0-9]+ writes, [1-9][0-9]* failed, 0 bad" \
		"writes failed while the target was away, and none landed after it was told"
	expect_grep "$TMP/churn.err" "the target holds it, waiting for its answer" \
		"frozen: a timed-out write the target holds waits for its answer"
	expect_grep "$TMP/churn.err" "timed out .*session down" \
		"killed: writes timed out while the session was down"
else
	echo "# tgtd cannot run here (not installed, or not root): the iSCSI part is left out"
fi
finish
