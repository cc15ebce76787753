#!/usr/bin/env bash
# A Linux guest jailed (hearth run --jail, docs/security.md): the test
# guest's /init on a disk (its pattern checked by the host afterwards) and
# virtio-net (TCP both ways with net_server.py, in a network namespace of
# the test's own, link-local addresses), hearth dropped to 65534 in a
# cgroup with limits; then a memory limit (8 MiB) the guest's boot exceeds: the
# kernel's OOM killer ends hearth (SIGKILL, 137) and the parent group
# counts the kill. Skips (77) without namespaces or TAP devices; the
# cgroup parts need a cgroup v2 file system with cpu, memory and pids
# (mounted here if the host has none, as in the box).
. "$(dirname "$0")/../integration/lib.sh"
require_kvm
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, TAP, cgroups)"; exit 77; }
tap_netns 169.254.77.1/16
dir=$(bash "$HERE/../guest/linux/build.sh" | tail -1)
BASE="console=ttyS0 reboot=k panic=-1 noxsave"

# The cgroup v2 hierarchy mounted again where `ip netns exec` keeps it:
# that replaces /sys (and with it /sys/fs/cgroup) in the mount namespace
# it runs hearth in, so hearth would find no cgroup v2 there (the box
# mounts its own at /sys/fs/cgroup). Same hierarchy, same groups.
CG_MNT= CG_OURS= CG=
if mkdir -p "$TMP/cg" && mount -t cgroup2 none "$TMP/cg" 2>/dev/null; then
	CG_MNT=$TMP/cg CG_OURS=1
fi
CG_NAME=hearth-linux-jail-$$
if [ -n "$CG_MNT" ] && grep -qw memory "$CG_MNT/cgroup.controllers" && grep -qw pids "$CG_MNT/cgroup.controllers" &&
	grep -qw cpu "$CG_MNT/cgroup.controllers" && echo "+cpu +memory +pids" >"$CG_MNT/cgroup.subtree_control" &&
	mkdir "$CG_MNT/$CG_NAME"; then
	CG=$CG_MNT/$CG_NAME
fi
trap 'if [ -n "$BG_PID" ]; then kill "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
	ip netns del "$NS" 2>/dev/null || true
	[ -z "$CG" ] || { sleep 1; rmdir "$CG"/hearth-* "$CG" 2>/dev/null || true; }
	[ -z "$CG_OURS" ] || umount "$TMP/cg" 2>/dev/null || true
	rm -rf "$TMP"' EXIT

"${NX[@]}" python3 "$HERE/net_server.py" 169.254.77.1 7780 "$TMP/server.log" &
BG_PID=$!
for _ in $(seq "$(scaled 50)"); do grep -q listening "$TMP/server.log" 2>/dev/null && break; sleep 0.1; done

LIMITS=()
[ -z "$CG" ] || LIMITS=(--jail-cgroup "$CG_NAME" --jail-memory 512M --jail-pids 32 --jail-cpus 2)
[ -n "$CG" ] || echo "# no cgroup v2 with cpu, memory and pids here: jailed without limits"
truncate -s 4M "$TMP/d1.img"
expect_exit 0 "jailed Linux guest: a disk and TCP both ways over virtio-net" -- \
	"${NX[@]}" "$HEARTH" run --jail "${LIMITS[@]}" --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" \
	--cpus 2 --memory 256M --disk "path=$TMP/d1.img" --net tap=htap0,mac=52:54:00:12:34:56 \
	--log-level info --timeout 120s --console "file:$TMP/guest.log" \
	--cmdline "$BASE hearth.checks=cpus,disk,net hearth.cpus=2 hearth.disk=/dev/vda hearth.ip=169.254.77.2 hearth.peer=169.254.77.1 hearth.port=7780 hearth.netbytes=1048576"
expect_grep "$TMP/err" "jailed: uid 65534 gid 65534, a new network namespace" "hearth ran jailed"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: disk .*result=pass" "the guest's disk check"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-tcp-to-host bytes=1048576 .*result=pass" "1 MiB guest -> host"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-tcp-from-host bytes=1048576 .*result=pass" "1 MiB host -> guest"
expect_grep "$TMP/guest.log" "^HEARTH-RESULT: pass" "the guest's verdict"
python3 - "$TMP/d1.img" <<'PY' && ok "host: the jailed guest's disk holds its pattern" || not_ok "host: the disk's pattern differs"
import sys
want = bytes((i * 131 + 1 * 7 + (i >> 9)) & 0xff for i in range(1 << 20))
with open(sys.argv[1], "rb") as f:
    f.seek(1 << 20)
    sys.exit(0 if f.read(1 << 20) == want else 1)
PY

if [ -n "$CG" ]; then
	before=$(awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events")
	# the bzImage: its decompression alone writes more than 8 MiB of
	# fresh guest pages, all after the jail
	expect_exit 137 "jailed with --jail-memory 8M: the guest's boot is OOM-killed" -- \
		"$HEARTH" run --jail --jail-cgroup "$CG_NAME" --jail-memory 8M --kernel "$dir/bzImage" \
		--initrd "$dir/initramfs.cpio" --memory 256M --timeout 120s --console "file:$TMP/oom.log" \
		--cmdline "$BASE hearth.checks=cpus"
	after=$(awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events")
	if [ "${after:-0}" -gt "${before:-0}" ]; then ok "memory.events: oom_kill $before -> $after"; else not_ok "no OOM kill counted ($before -> $after)"; fi
fi
finish
