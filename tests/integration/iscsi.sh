#!/usr/bin/env bash
# The iSCSI block backend against a real target: a tgtd of our own (its own
# portal on a free loopback port, its own control port), file-backed LUNs.
# The probe guest's block tests run on iSCSI disks (512- and 4096-byte
# blocks, CHAP one-way and mutual from the URL, the environment and a secret
# file, read-only by option and by write protection) and the host checks
# the LUN files byte for byte; each bad input is refused with its exit code
# and one line; then resilience: tgtd SIGKILLed and restarted during a write
# stream, a target that stops answering (SIGSTOP) past timeout= and one
# that goes away for good.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH
if ! command -v tgtd >/dev/null || ! command -v tgtadm >/dev/null; then
	echo "SKIP: tgt (tgtd, tgtadm) is not installed (scripts/deps.sh)"
	exit 77
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: tgtd needs root (its control socket lives in /var/run/tgtd)"
	exit 77
fi

tgt_init
UPW=initiator-secret-1
TPW=target-secret-2
configure() {
	target 1 plain "$TMP/plain.img"
	target 2 chap "$TMP/chap.img"
	A --mode account --op new --user hearth-in --password "$UPW"
	A --mode account --op bind --tid 2 --user hearth-in
	target 3 mutual "$TMP/mutual.img"
	A --mode account --op new --user hearth-out --password "$TPW"
	A --mode account --op bind --tid 3 --user hearth-in
	A --mode account --op bind --tid 3 --user hearth-out --outgoing
	target 4 big-blocks "$TMP/4k.img" --blocksize 4096
	target 5 protected "$TMP/wp.img"
	A --mode logicalunit --op update --tid 5 --lun 1 --params readonly=1
	target 6 shape "$TMP/shape.img"
	target 7 stream "$TMP/stream.img"
	target 8 thin "$TMP/thin.img"
	A --mode logicalunit --op update --tid 8 --lun 1 --params thin_provisioning=1
}

# check_stream FILE: every 4 KiB block n holds the probe's "seqfill" pattern.
check_stream() {
	python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
j = bytes(range(256))
for n in range(len(data) // 4096):
    want = bytes((n * 131 + i * 7 + 3) & 0xff for i in range(4096))
    if data[n * 4096:(n + 1) * 4096] != want:
        print("block", n, "differs"); sys.exit(1)
PY
}
no_secret() { # FILE WHAT: no password in hearth's output
	if grep -qF -e "$UPW" -e "$TPW" "$1"; then not_ok "$2: a password leaked"; else ok "$2: no password in the output"; fi
}

truncate -s 1M "$TMP/plain.img" "$TMP/chap.img" "$TMP/mutual.img" "$TMP/4k.img" "$TMP/wp.img"
truncate -s 30G "$TMP/shape.img"
truncate -s 16M "$TMP/stream.img"
head -c 1M /dev/urandom >"$TMP/thin.img"
cp "$TMP/thin.img" "$TMP/thin.orig"
start_tgtd
configure
URL=iscsi://127.0.0.1:$PORT/$IQN

# ---- the probe's block tests on iSCSI disks ----
expect_exit 0 "probe blk on an iSCSI LUN" -- \
	"$H" run --kernel "$PROBE" --log-level info --disk "url=$URL:plain/1" \
	--cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-write-flush disk=0 status=0 result=pass" "write + flush over iSCSI"
expect_grep "$TMP/out" "^PROBE: test=blk-readback disk=0 result=pass" "read back over iSCSI"
expect_grep "$TMP/out" "^PROBE: test=blk-past-end disk=0 result=pass" "past the end is IOERR"
expect_grep "$TMP/err" "disk vda: iscsi://127.0.0.1:$PORT/.*, libiscsi" "the log names the libiscsi engine"
if check_image "$TMP/plain.img" 0; then ok "host: the LUN holds exactly what the guest wrote"; else not_ok "host: the LUN differs"; fi

expect_exit 0 "probe blk on an iSCSI LUN, event loop on epoll" -- \
	"$H" run --kernel "$PROBE" --log-level info --event-loop epoll --disk "url=$URL:plain/1" \
	--cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: done pass=1 fail=0" "epoll: the guest's disk tests pass"
expect_grep "$TMP/err" "event loop on epoll" "epoll: the log says so"
if check_image "$TMP/plain.img" 0; then ok "host: epoll: the LUN holds exactly what the guest wrote"; else not_ok "host: epoll: the LUN differs"; fi

expect_exit 0 "CHAP from the URL" -- \
	"$H" run --kernel "$PROBE" --log-level debug --disk "url=iscsi://hearth-in%$UPW@127.0.0.1:$PORT/$IQN:chap/1" \
	--cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/err" "disk vda: iscsi://hearth-in@127.0.0.1:$PORT/" "the log shows the URL without its password"
no_secret "$TMP/err" "CHAP from the URL"
if check_image "$TMP/chap.img" 0; then ok "host: the CHAP LUN holds what the guest wrote"; else not_ok "host: the CHAP LUN differs"; fi
: >"$TMP/chap.img" && truncate -s 1M "$TMP/chap.img"
expect_exit 0 "CHAP from the environment" -- \
	env HEARTH_ISCSI_USER=hearth-in HEARTH_ISCSI_PASSWORD=$UPW \
	"$H" run --kernel "$PROBE" --disk "url=$URL:chap/1" --cmdline "probe.tests=blk" --timeout 60s
if check_image "$TMP/chap.img" 0; then ok "host: written through CHAP from the environment"; else not_ok "host: the CHAP LUN differs (environment)"; fi
printf '# mutual CHAP\nuser=hearth-in\npassword=%s\ntarget_user=hearth-out\ntarget_password=%s\n' "$UPW" "$TPW" >"$TMP/secret"
expect_exit 0 "mutual CHAP from a secret file" -- \
	"$H" run --kernel "$PROBE" --log-level debug --disk "url=$URL:mutual/1,secret=$TMP/secret" \
	--cmdline "probe.tests=blk" --timeout 60s
no_secret "$TMP/err" "mutual CHAP"
if check_image "$TMP/mutual.img" 0; then ok "host: written through mutual CHAP"; else not_ok "host: the mutual CHAP LUN differs"; fi
printf 'user=hearth-in\npassword=%s\ntarget_user=hearth-out\ntarget_password=not-the-target\n' "$UPW" >"$TMP/badsecret"
expect_exit 122 "mutual CHAP: a target that does not know our secret for it" -- \
	"$H" run --kernel "$PROBE" --disk "url=$URL:mutual/1,secret=$TMP/badsecret" --timeout 60s
expect_grep "$TMP/err" "login to target .*mutual.* failed \(CHAP\)" "mutual CHAP failure named"

expect_exit 0 "a LUN with 4096-byte blocks" -- \
	"$H" run --kernel "$PROBE" --disk "url=$URL:big-blocks/1" --cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-readback disk=0 result=pass" "4096-byte blocks: read back"
expect_grep "$TMP/out" "^PROBE: test=blk-misaligned disk=0 blk_size=4096 result=pass" \
	"4096-byte blocks: blk_size says so, a request not aligned to them is IOERR"
if check_image "$TMP/4k.img" 0; then ok "host: the 4096-byte-block LUN holds what the guest wrote"; else not_ok "host: the 4K LUN differs"; fi

expect_exit 0 "readonly=on" -- \
	"$H" run --kernel "$PROBE" --disk "url=$URL:plain/1,readonly=on" --cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-write-readonly disk=0 status=1 result=pass" "readonly=on: a write is IOERR"
expect_exit 0 "a write-protected LUN" -- \
	"$H" run --kernel "$PROBE" --log-level info --disk "url=$URL:protected/1" --cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-write-readonly disk=0 status=1 result=pass" "write-protected: the guest sees a read-only disk"
expect_grep "$TMP/err" "disk vda: .*read-only" "the log says read-only"
if [ "$(tr -d '\0' <"$TMP/wp.img" | wc -c)" = 0 ]; then ok "host: the protected LUN is untouched"; else not_ok "host: protected LUN written"; fi

expect_exit 0 "DISCARD and WRITE_ZEROES on a thin-provisioned LUN" -- \
	"$H" run --kernel "$PROBE" --disk "url=$URL:thin/1,discard=on" --cmdline "probe.tests=blk-discard" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-discard-init disk=0 max_discard_sectors=[1-9][0-9]* result=pass" \
	"the LUN's UNMAP limit reaches the guest"
cp "$TMP/out" "$TMP/thin.out"
expect_grep "$TMP/out" "^PROBE: test=blk-discard disk=0 status=0 result=pass" "DISCARD is UNMAP"
expect_grep "$TMP/out" "^PROBE: test=blk-write-zeroes disk=0 status=0 result=pass" "WRITE_ZEROES is WRITE SAME"
expect_grep "$TMP/out" "^PROBE: test=blk-zeroes-readback disk=0 result=pass" "both read back as zeroes"
if python3 - "$TMP/thin.img" "$TMP/thin.orig" <<'PY'; then ok "host: sectors 16-31 are zero, the rest untouched"; else not_ok "host: the thin LUN's bytes are wrong"; fi
import sys
a, b = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if a[8192:16384] == bytes(8192) and a[:8192] == b[:8192] and a[16384:] == b[16384:] else 1)
PY

expect_exit 0 "the seed's shape: 2 vCPUs, 4 GiB, a 30 GiB LUN" -- \
	"$H" run --kernel "$PROBE" --cpus 2 --memory 4G --disk "url=$URL:shape/1" --cmdline "probe.tests=blk" --timeout 120s
expect_grep "$TMP/out" "^PROBE: test=blk-init disk=0 sectors=62914560 result=pass" "30 GiB seen by the guest"
expect_grep "$TMP/out" "^PROBE: test=blk-readback disk=0 result=pass" "30 GiB LUN: read back"

# ---- bad input: one line, a documented exit code ----
bad() { # CODE WHAT PATTERN URL-OPTION [env...]
	local code=$1 what=$2 pat=$3 disk=$4
	shift 4
	expect_exit "$code" "$what" -- env "$@" "$H" run --kernel "$PROBE" --disk "$disk" --timeout 60s
	expect_grep "$TMP/err" "$pat" "$what: the cause is named"
	expect_one_line "$TMP/err" "$what"
	no_secret "$TMP/err" "$what"
}
bad 125 "unparsable URL" "bad iSCSI URL: no /lun" "url=iscsi://127.0.0.1:$PORT/$IQN:plain"
bad 125 "URL with a bad port" "bad iSCSI URL: port out of range" "url=iscsi://127.0.0.1:99999/$IQN:plain/1"
bad 125 "path= and url= together" "mutually exclusive" "path=$TMP/plain.img,url=$URL:plain/1"
bad 125 "a password without a user" "needs both a user and a password" "url=$URL:chap/1" HEARTH_ISCSI_PASSWORD=$UPW
bad 122 "unknown host" "cannot resolve host 'no-such-host.invalid'" "url=iscsi://no-such-host.invalid/$IQN:plain/1"
CLOSED=$(free_port)
bad 122 "connection refused" "cannot connect to 127.0.0.1:$CLOSED" "url=iscsi://127.0.0.1:$CLOSED/$IQN:plain/1"
bad 122 "CHAP failure" "login to target '$IQN:chap' at 127.0.0.1:$PORT failed \(CHAP\)" \
	"url=iscsi://hearth-in%wrong-password@127.0.0.1:$PORT/$IQN:chap/1"
bad 122 "CHAP needed, none given" "login to target '$IQN:chap' .* failed" "url=$URL:chap/1"
bad 122 "unknown target" "login to target '$IQN:nobody' .* failed" "url=$URL:nobody/1"
bad 122 "LUN missing" "LUN 9 of target '$IQN:plain' .* is not available" "url=$URL:plain/9"
bad 122 "LUN not a disk" "LUN 0 of target '$IQN:plain' is not a disk" "url=$URL:plain/0"
bad 122 "discard=on on a LUN that cannot UNMAP" "cannot UNMAP" "url=$URL:plain/1,discard=on"

# ---- resilience: tgtd killed and restarted during a write stream ----
# On both event loops: the socket changes under the loop's watch.
# Under LeakSanitizer: libiscsi's reconnect drops a PDU or two of the old
# session without freeing them (its code, not ours): not counted here.
printf 'leak:libiscsi.so\n' >"$TMP/lsan.supp"
for loop in io_uring epoll; do
	: >"$TMP/stream.img"
	truncate -s 16M "$TMP/stream.img"
	LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$TMP/lsan.supp \
		"$H" run --kernel "$PROBE" --cpus 2 --event-loop $loop --disk "url=$URL:stream/1" \
		--cmdline "probe.tests=blkbench probe.bench=seqfill probe.bs=4096 probe.qd=8 probe.ops=30000" \
		--timeout 240s >"$TMP/stream.out" 2>"$TMP/stream.err" </dev/null &
	VMM=$!
	for _ in $(seq "$(scaled 300)"); do # until the stream is under way
		[ "$(head -c 65536 "$TMP/stream.img" | tr -d '\0' | wc -c)" -gt 0 ] && break
		sleep 0.1
	done
	kill -9 "$TGTD"
	wait "$TGTD" 2>/dev/null || true
	sleep 1
	start_tgtd
	configure >"$TMP/configure.log" 2>&1 || true # the accounts and targets, as before
	got=0
	wait "$VMM" || got=$?
	if [ "$got" = 0 ]; then ok "$loop: the guest's stream survived a tgtd SIGKILL + restart (exit 0)"; else
		not_ok "$loop: stream: hearth exit $got"
		sed 's/^/#   /' "$TMP/stream.err" | tail -5
		echo "#   the restarted tgtd's set-up and log:"
		cat "$TMP/configure.log" "$TMP/tgtd.log" | tail -20 | sed 's/^/#   /'
	fi
	expect_grep "$TMP/stream.out" "^PROBE: test=blkbench mode=seqfill bs=4096 qd=8 ops=30000 errors=0 .*result=pass" \
		"$loop: stream: every write completed without error"
	expect_grep "$TMP/stream.err" "iSCSI session: reconnect was successful \\[$IQN:stream\\]" \
		"$loop: the session was re-established in the middle of the stream"
	if check_stream "$TMP/stream.img"; then ok "host: $loop: the LUN holds exactly the stream's data"; else not_ok "host: $loop: the LUN's data is wrong after the restart"; fi
done

# ---- a target that stops answering: a request it holds is never failed
# behind its back ----
# The guest waits for Ctrl-Alt-Del (hearth's SIGTERM) before its I/O, so
# the target is frozen between login and the first request, whatever the
# speeds. The requests reach the frozen target's socket; past timeout=
# hearth still waits for the target's answer (failing them would let the
# target run them after the guest was told they failed, docs/iscsi.md);
# once it answers, each gets its real result.
"$H" run --kernel "$PROBE" --disk "url=$URL:stream/1,timeout=2s" --shutdown-timeout 200s \
	--cmdline "probe.tests=cad,blkbench probe.bench=randread probe.qd=4 probe.ops=8" \
	--timeout 300s >"$TMP/frozen.out" 2>"$TMP/frozen.err" </dev/null &
VMM=$!
for _ in $(seq "$(scaled 600)"); do
	grep -q "test=cad waiting" "$TMP/frozen.out" && break
	sleep 0.1
done
kill -STOP "$TGTD"
kill -TERM "$VMM"
for _ in $(seq "$(scaled 600)"); do
	grep -q "the target holds it" "$TMP/frozen.err" && break
	sleep 0.1
done
expect_grep "$TMP/frozen.err" "request timed out .*the target holds it, waiting for its answer" \
	"frozen: past timeout=, a request the target holds waits for its answer"
sleep 3 # more ticks past the deadline
if grep -q "test=blkbench" "$TMP/frozen.out"; then
	not_ok "frozen: the guest was answered while the target held its requests"
	sed 's/^/#   /' "$TMP/frozen.out" | tail -3
else
	ok "frozen: no answer reached the guest while the target held its requests"
fi
kill -CONT "$TGTD"
got=0
wait "$VMM" || got=$?
if [ "$got" = 0 ]; then ok "frozen, then thawed: hearth exits with the guest's verdict (0)"; else not_ok "frozen: hearth exit $got, wanted 0"; sed 's/^/#   /' "$TMP/frozen.err" | tail -5; fi
expect_grep "$TMP/frozen.out" "^PROBE: test=blkbench mode=randread .* ops=8 errors=0 .*result=pass" \
	"thawed: every request got the target's answer"
kill -STOP "$TGTD"
expect_exit 122 "a frozen target at startup" -- \
	"$H" run --kernel "$PROBE" --disk "url=$URL:stream/1,timeout=2s" --timeout 60s
expect_grep "$TMP/err" "no answer within 2 s" "the login timeout is named"
expect_one_line "$TMP/err" "frozen target at startup"
kill -CONT "$TGTD"

# ---- a target that goes away for good: libiscsi keeps trying to
# reconnect, the guest's requests fail after timeout=, hearth exits ----
"$H" run --kernel "$PROBE" --disk "url=$URL:stream/1,timeout=2s" --shutdown-timeout 100s \
	--cmdline "probe.tests=cad,blkbench probe.bench=randwrite probe.qd=4 probe.ops=8" \
	--timeout 200s >"$TMP/gone.out" 2>"$TMP/gone.err" </dev/null &
VMM=$!
for _ in $(seq "$(scaled 600)"); do
	grep -q "test=cad waiting" "$TMP/gone.out" && break
	sleep 0.1
done
kill -9 "$TGTD"
wait "$TGTD" 2>/dev/null || true
TGTD=
kill -TERM "$VMM"
got=0
wait "$VMM" || got=$?
if [ "$got" = 1 ]; then ok "a target gone for good: hearth exits with the guest's verdict (1)"; else not_ok "gone: hearth exit $got, wanted 1"; sed 's/^/#   /' "$TMP/gone.err" | tail -5; fi
expect_grep "$TMP/gone.out" "^PROBE: test=blkbench mode=randwrite .* ops=8 errors=8 .*result=fail" \
	"target gone: every request got IOERR"
expect_grep "$TMP/gone.err" "iSCSI session: reconnect" "target gone: libiscsi was reconnecting"
finish
