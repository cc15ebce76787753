#!/usr/bin/env bash
# A Linux guest at work across a snapshot and a restore (docs/snapshot.md):
# Debian's stock kernel on 2 vCPUs, its root on virtio-blk, its NIC in a
# netns of the test's own. Its init writes a numbered line to a file on its
# disk and syncs it, pings the host, and prints a heartbeat with its uptime,
# five times a second. The guest is paused, saved and stopped in the middle
# of that; a new hearth resumes it from the snapshot with the same disk and
# TAP: the heartbeat goes on from the next number, with no boot, its clock
# from where it stopped, the host still answers its pings, and after the
# ACPI power button (SIGTERM) its file holds every line in order, its
# kernel log has no error, and the file system is clean.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/stock_lib.sh"
require_kvm
stock_pick
box_pin_hearth 1 # pause in the box: as api.sh (lib.sh says why)
command -v mke2fs >/dev/null && command -v debugfs >/dev/null || { echo "SKIP: no e2fsprogs"; exit 77; }
tap_netns 169.254.79.1/16

mkdir -p "$TMP/rootfs"/{bin,dev,proc,sys,sbin}
cp /bin/busybox "$TMP/rootfs/bin/busybox"
{ init_head; cat <<'INIT'; } >"$TMP/rootfs/sbin/init"
say() { echo "hearth-user: $*" >/dev/ttyS0; }
ip link set eth0 up
ip addr add 169.254.79.2/16 dev eth0
for ev in /sys/class/input/event*; do
	[ "$(cat "$ev/device/name")" = "Power Button" ] && btn=/dev/input/${ev##*/}
done
[ -n "$btn" ] && exec 3<"$btn"
# the kernel log from here on is the work's and the restore's: the boot's
# is shown, then cleared
bad='I/O error|soft lockup|rcu.*stall|hung task|call trace|clocksource.*unstable'
dmesg | grep -iE -B 8 "$bad" | head -20 | sed 's/^/hearth-user: boot dmesg: /' >/dev/ttyS0
dmesg -c >/dev/null
(
	i=0
	while :; do
		i=$((i + 1))
		echo "line $i" >>/beats
		sync /beats
		ping -c 1 -W 2 169.254.79.1 >/dev/null 2>&1 && net=ok || net=down
		say "beat $i up $(cut -d' ' -f1 /proc/uptime) net $net"
		sleep 0.2
	done
) &
beats=$!
say "working; waiting for the power button on ${btn:-nothing}"
[ -n "$btn" ] && dd of=/dev/null bs=24 count=1 <&3 2>/dev/null
kill $beats
wait $beats 2>/dev/null
sync
# every line in order: line N on line N
say "lines $(wc -l </beats) out-of-order $(awk '$2 != NR { n++ } END { print n + 0 }' /beats)"
say "kernel errors $(dmesg | grep -ciE "$bad")"
dmesg | grep -iE -B 8 "$bad" | head -20 | sed 's/^/hearth-user: dmesg: /' >/dev/ttyS0
poweroff -f
INIT
chmod +x "$TMP/rootfs/sbin/init"
cat >"$TMP/stage" <<'STAGE'
for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 /dev/vda /root || { echo "hearth-user: no root"; poweroff -f; }
umount /proc /sys /dev
exec switch_root /root /sbin/init
STAGE
stock_initramfs "$TMP/initrd" "$TMP/stage" button evdev
truncate -s 64M "$TMP/root.img"
mke2fs -q -t ext4 -d "$TMP/rootfs" "$TMP/root.img"

SNAP=$TMP/snap
L1=$TMP/src.log
NET=(--net tap=htap0,mac=52:54:00:12:34:79)
"${NX[@]}" "$HEARTH" run --kernel "$KERNEL" --initrd "$TMP/initrd.cpio.gz" \
	--cmdline "console=ttyS0 root=/dev/vda" --cpus 2 --memory 512M \
	--disk "path=$TMP/root.img" "${NET[@]}" --api-socket "$TMP/a.sock" \
	--timeout 300s --console "file:$L1" >"$TMP/src.out" 2>"$TMP/src.err" </dev/null &
src=$!
beat() { grep -Eo "^hearth-user: beat [0-9]+ up [0-9.]+ net [a-z]+" "$1" | awk '{print $3, $5, $7}'; }
for _ in $(seq "$(scaled 600)"); do
	[ "$(beat "$L1" | awk '$3 == "ok"' | wc -l)" -ge 5 ] && break
	kill -0 "$src" 2>/dev/null || break
	sleep 0.2
done
[ "$(beat "$L1" | awk '$3 == "ok"' | wc -l)" -ge 5 ] && ok "the guest works: 5 beats with the host answering" ||
	{ not_ok "the guest never got to 5 beats"; tail -n 20 "$L1" | sed 's/^/#   /'; }
"$HEARTH" ctl "$TMP/a.sock" pause >/dev/null && ok "paused in the middle of its work" || not_ok "pause"
if "$HEARTH" ctl "$TMP/a.sock" snapshot "$SNAP" >/dev/null 2>"$TMP/ctl.err"; then ok "snapshot"; else
	not_ok "snapshot: $(cat "$TMP/ctl.err")"
fi
"$HEARTH" ctl "$TMP/a.sock" stop >/dev/null || true
got=0
wait "$src" || got=$?
[ "$got" = 123 ] && ok "the source stopped (exit 123)" || not_ok "source: exit $got"
read -r last up_before _ < <(beat "$L1" | tail -n 1)
echo "# last beat before the snapshot: $last at uptime $up_before"

L2=$TMP/restored.log
"${NX[@]}" "$HEARTH" run --restore "$SNAP" --disk "path=$TMP/root.img" "${NET[@]}" \
	--timeout 300s --shutdown-timeout 120s --console "file:$L2" >"$TMP/r.out" 2>"$TMP/r.err" </dev/null &
pid=$!
for _ in $(seq "$(scaled 600)"); do
	[ "$(beat "$L2" | wc -l)" -ge 10 ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
read -r first up_after _ < <(beat "$L2" | head -n 1)
echo "# first beat after the restore: ${first:-none} at uptime ${up_after:-none}"
if [ -n "$first" ] && [ "$first" -ge $((last + 1)) ] && [ "$first" -le $((last + 2)) ]; then
	ok "the heartbeat goes on: $last, then $first"
else
	not_ok "heartbeat: $last before, ${first:-none} after"; sed 's/^/#   /' "$TMP/r.err" | tail -5
fi
grep -q "Linux version" "$L2" && not_ok "the restored guest booted again" || ok "no boot after the restore"
# its clock went on from where it stopped: no jump by the time it was saved
if [ -n "$up_after" ] && python3 -c "import sys; b, a = map(float, sys.argv[1:]); sys.exit(0 if b <= a <= b + 5 else 1)" "$up_before" "$up_after"; then
	ok "the guest's clock goes on from where it stopped ($up_before s, then $up_after s)"
else
	not_ok "the guest's clock: $up_before s before, ${up_after:-none} s after"
fi
[ "$(beat "$L2" | tail -n 5 | awk '$3 == "ok"' | wc -l)" -ge 1 ] && ok "the host answers the restored guest's pings" ||
	not_ok "no ping answered after the restore"
kill -TERM "$pid"
got=0
wait "$pid" || got=$?
[ "$got" = 0 ] && ok "the restored guest powers off on SIGTERM (exit 0)" ||
	{ not_ok "restored guest: exit $got"; tail -n 20 "$L2" | sed 's/^/#   /'; }
n=$(grep -Eo "^hearth-user: lines [0-9]+ out-of-order [0-9]+" "$L2" | awk '{print $3, $5}')
read -r lines bad <<<"${n:-0 x}"
[ "$bad" = 0 ] && [ "$lines" -gt "$last" ] && ok "$lines lines on its disk, all in order" ||
	not_ok "the guest's file: '${n:-nothing}'"
expect_grep "$L2" "^hearth-user: kernel errors 0" "no I/O error, stall or lockup in the guest's kernel log"
grep -q "^hearth-user: kernel errors 0" "$L2" || grep -aE "^hearth-user: (kernel errors|dmesg)" "$L2" | sed 's/^/#   /' || true
grep -aE "^hearth-user: boot dmesg" "$L1" | sed 's/^/# (before the work: not counted) /' || true
e2fsck -fn "$TMP/root.img" >"$TMP/fsck" 2>&1 && ok "the file system is clean" ||
	{ not_ok "e2fsck"; sed 's/^/#   /' "$TMP/fsck" | head; }
debugfs -R "cat /beats" "$TMP/root.img" 2>/dev/null >"$TMP/beats"
[ "$(wc -l <"$TMP/beats")" = "$lines" ] && awk '$2 != NR { exit 1 }' "$TMP/beats" &&
	ok "the host reads the same $lines lines in order" || not_ok "the host reads $(wc -l <"$TMP/beats") lines"
finish
