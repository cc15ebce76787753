#!/usr/bin/env bash
# virtio-blk with the probe guest's own driver (tests/guest/probe/virtio.c):
# several disks at once, 1 and 2 vCPUs, a read-only disk, every backend
# engine; the host then checks the images byte for byte. Then a hostile
# driver: each broken request gets its error or DEVICE_NEEDS_RESET, hearth
# keeps running and the disks keep working.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH

for cpus in 1 2; do
	for engine in io_uring libaio sync; do
		rm -f "$TMP"/d*.img
		truncate -s 1M "$TMP/d0.img" "$TMP/d1.img" "$TMP/d2.img"
		expect_exit 0 "3 disks (one read-only), $cpus vCPU(s), $engine" -- \
			"$H" run --kernel "$PROBE" --cpus $cpus --log-level info \
			--disk "path=$TMP/d0.img,engine=$engine" --disk "path=$TMP/d1.img,serial=second,engine=$engine" \
			--disk "path=$TMP/d2.img,readonly=on,engine=$engine" --cmdline "probe.tests=blk" --timeout 60s
		expect_grep "$TMP/out" "^PROBE: test=blk-scan disks=3 result=pass" "the guest finds 3 disks"
		expect_grep "$TMP/out" "^PROBE: test=blk-pci-cfg-window disk=0 result=pass" \
			"the PCI configuration access window reaches the common config"
		expect_grep "$TMP/out" "^PROBE: test=blk-write-readonly disk=2 status=1 result=pass" \
			"a write to the read-only disk fails with IOERR"
		expect_grep "$TMP/err" "disk vda: .*, $engine" "the log names the $engine engine"
		for d in 0 1; do
			if check_image "$TMP/d$d.img" $d; then ok "host: disk $d holds exactly what the guest wrote"; else not_ok "host: disk $d differs"; fi
		done
		if [ "$(tr -d '\0' <"$TMP/d2.img" | wc -c)" = 0 ]; then ok "host: the read-only disk is untouched"; else not_ok "host: read-only disk written"; fi
	done
done

truncate -s 1M "$TMP/h0.img" "$TMP/h1.img"
expect_exit 0 "a hostile driver, then a well-behaved one" -- \
	"$H" run --kernel "$PROBE" --disk "path=$TMP/h0.img" --disk "path=$TMP/h1.img" \
	--memory 512M --cmdline "probe.tests=blk-hostile,blk probe.over4g=1" --timeout 60s
for c in descriptor-loop next-out-of-range buffer-outside-ram buffer-wraps readable-after-writable \
	avail-runaway partial-sector unknown-type sector-wraps over-4gib no-status-byte pci-readonly-fields \
	msix-out-of-range misaligned-ring bad-queue-size status-regression recovered; do
	expect_grep "$TMP/out" "^PROBE: test=blk-hostile case=$c result=pass" "hostile: $c"
done
expect_grep "$TMP/out" "^PROBE: test=blk-readback disk=1 result=pass" "the other disk kept working"
expect_grep "$TMP/err" "device needs reset" "hearth says why it reset the device"
# MSI-X: completions arrive as the vector the guest programmed, on 2 vCPUs;
# a masked vector leaves its pending bit and fires on unmask.
expect_exit 0 "MSI-X delivery through irqfd" -- \
	"$H" run --kernel "$PROBE" --cpus 2 --disk "path=$TMP/h0.img" --cmdline "probe.tests=blk-msix" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-msix case=delivered irqs=1 result=pass" "an MSI-X interrupt per completion"
expect_grep "$TMP/out" "^PROBE: test=blk-msix case=masked-then-pending result=pass" "masking holds it pending"
expect_grep "$TMP/out" "^PROBE: test=blk-msix case=qword-across-entries result=pass" \
	"an 8-byte MSI-X write across two entries changes neither"
expect_grep "$TMP/out" "^PROBE: test=blk-msix case=table-write-loop result=pass" \
	"after 10000 rewrites of an entry, the interrupt follows its last value"

# The same hostile transport use (a status that goes backwards, MSI-X
# writes across entries and in a loop) and a flood of boot markers, with
# the API asked while the guest waits, then SIGTERM: hearth answers, logs
# a burst of markers rather than one line each, and stops.
truncate -s 1M "$TMP/t0.img"
"$H" run --kernel "$PROBE" --cpus 2 --disk "path=$TMP/t0.img" --log-level info \
	--api-socket "$TMP/t.sock" --cmdline "probe.tests=blk-hostile,blk-msix,markers,cad" \
	--timeout 300s >"$TMP/t.out" 2>"$TMP/t.err" </dev/null &
pid=$!
for _ in $(seq "$(scaled 600)"); do grep -q "^PROBE: test=cad waiting" "$TMP/t.out" && break; sleep 0.1; done
expect_grep "$TMP/t.out" "^PROBE: test=cad waiting" "the hostile guest got to its wait"
expect_exit 0 "the API answers after the hostile driver" -- "$H" ctl "$TMP/t.sock" status
expect_grep "$TMP/out" '"state":"running"' "the guest is running"
kill -TERM "$pid"
for _ in $(seq "$(scaled 300)"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "hearth did not stop within 30 s of SIGTERM"
	kill -KILL "$pid"
fi
got=0
wait "$pid" || got=$?
if [ "$got" = 0 ]; then ok "SIGTERM: the guest shut down, every case passed (exit 0)"; else
	not_ok "SIGTERM: exit $got, wanted 0"; sed 's/^/#   /' "$TMP/t.out" | grep -v "result=pass" | head -20; fi
expect_grep "$TMP/t.out" "^PROBE: test=markers count=2000 result=pass" "the guest wrote 2000 boot markers"
n=$(grep -c "guest boot marker" "$TMP/t.err" || true)
if [ "$n" -ge 1 ] && [ "$n" -le 50 ]; then ok "2001 boot markers, $n log lines"; else
	not_ok "2001 boot markers gave $n log lines"; fi
# Image locking: a writable disk is exclusive, read-only disks share.
# hold DISKOPTS: a hearth idling with that disk, in the background ($holder)
hold() {
	"$H" run --kernel "$PROBE" --disk "$1" --cmdline "probe.tests=idle" \
		--shutdown-timeout 0 --timeout 120s >"$TMP/holder.out" 2>&1 </dev/null &
	holder=$!
	for _ in $(seq "$(scaled 300)"); do grep -q "PROBE: idle" "$TMP/holder.out" && return 0; sleep 0.1; done
	not_ok "the hearth holding $1 did not start"
	sed 's/^/#   /' "$TMP/holder.out"
}
release() {
	kill -TERM "$holder" 2>/dev/null || { not_ok "the holder ended early"; sed 's/^/#   /' "$TMP/holder.out"; }
	wait "$holder" || true
}
truncate -s 1M "$TMP/l0.img"
hold "path=$TMP/l0.img"
expect_exit 122 "a disk another hearth writes is refused" -- \
	"$H" run --kernel "$PROBE" --disk "path=$TMP/l0.img,readonly=on" --cmdline "probe.tests=serial"
expect_grep "$TMP/err" "^hearth: --disk: disk '.*l0.img' is in use by another process" "the error names the disk"
expect_one_line "$TMP/err" "disk in use"
release
expect_exit 122 "one image given twice to one hearth is refused" -- \
	"$H" run --kernel "$PROBE" --disk "path=$TMP/l0.img" --disk "path=$TMP/l0.img" \
	--cmdline "probe.tests=serial"
hold "path=$TMP/l0.img,readonly=on"
expect_exit 0 "two read-only users of one image" -- \
	"$H" run --kernel "$PROBE" --disk "path=$TMP/l0.img,readonly=on" --disk "path=$TMP/l0.img,readonly=on" \
	--cmdline "probe.tests=serial" --timeout 60s
release

# With --io-poll the I/O thread reads every enabled ring between kicks: a
# driver that moves from disk to disk must find them all intact.
truncate -s 1M "$TMP/p0.img" "$TMP/p1.img" "$TMP/p2.img"
expect_exit 0 "3 disks with --io-poll" -- "$H" run --kernel "$PROBE" --io-poll 50 \
	--disk "path=$TMP/p0.img" --disk "path=$TMP/p1.img" --disk "path=$TMP/p2.img" \
	--cmdline "probe.tests=blk" --timeout 60s
if grep -q "needs reset" "$TMP/err"; then not_ok "a polled disk was reset"; sed 's/^/#   /' "$TMP/err"; else ok "no polled disk reset"; fi
# The benchmark's interrupt-driven mode (probe.wait=irq: the vCPU sleeps in
# hlt until the queue's MSI-X vector fires), so bench/ can rely on it.
truncate -s 8M "$TMP/b0.img"
expect_exit 0 "blkbench waiting for completion interrupts" -- "$H" run --kernel "$PROBE" \
	--disk "path=$TMP/b0.img" --timeout 60s \
	--cmdline "probe.tests=blkbench probe.bench=randwrite probe.qd=8 probe.ops=2000 probe.wait=irq"
expect_grep "$TMP/out" "^PROBE: test=blkbench mode=randwrite bs=4096 qd=8 ops=2000 errors=0 .*result=pass" \
	"2000 writes at QD8, every completion seen through its interrupt"
finish
