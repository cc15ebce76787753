#!/usr/bin/env bash
# bench/snapshot.sh: snapshot and restore, hearth side by side with QEMU
# (Debian's qemu-system-x86, -M microvm) in the same run, on the guest issue
# 19 names: 2 vCPUs, 512 MiB, one disk, one NIC (a TAP in a network
# namespace of the script's own). The guest is the probe printing a tick
# every millisecond (probe.tick_us=1000), so its first line after a restore
# comes right after its first instructions run.
#
# For each VMM: the guest is started, paused and saved once (hearth: PUT
# /v1/vm/snapshot; QEMU: QMP migrate to "exec:cat > FILE", the way QEMU
# saves a VM to a file), and its time and size are reported; then
# REPEAT restores (hearth --restore DIR; QEMU -incoming "exec:cat FILE"),
# each timed by bench/stamp from fork() to the guest's first tick on the
# serial console, with the VMM's RSS outside guest RAM at that moment; and
# REPEAT cold boots of the same machine to the probe's first line, as the
# time a restore saves. Ratios are hearth/QEMU: lower is better.
#
#   REPEAT=10 bench/snapshot.sh      (IMG_DIR: where the disk and snapshots go)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
[ "$(id -u)" = 0 ] || { echo "bench/snapshot.sh: needs root (a network namespace and TAPs)" >&2; exit 1; }
MEM=512M
MEMB=$((512 << 20))
work=$(mktemp -d "$IMG_DIR/hearth-snapbench.XXXXXX")
ns=hsnap$$
ip netns add "$ns"
NX=(ip netns exec "$ns")
cleanup() {
	[ -n "${src:-}" ] && kill -9 "$src" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
truncate -s 64M "$work/disk.img"
CMD="console=ttyS0 probe.tests=tick probe.ticks=100000000 probe.tick_us=1000"
HDEV=(--cpus 2 --memory "$MEM" --disk "path=$work/disk.img" --net tap=hsnap0)
QEMU=(qemu-system-x86_64 -M microvm -enable-kvm -cpu "$QEMU_CPU" -smp 2 -m "$MEM"
	-nodefaults -no-user-config -nographic -serial stdio -no-reboot
	-drive "if=none,id=d0,file=$work/disk.img,format=raw,cache=none,aio=io_uring"
	-device virtio-blk-device,drive=d0
	-netdev tap,id=n0,ifname=qsnap0,script=no,downscript=no -device virtio-net-device,netdev=n0
	-kernel "$PROBE" -append "$CMD")
now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1e6 }'; }
wait_tick() { # LOG
	for _ in $(seq 600); do grep -q "^PROBE: tick 20$" "$1" 2>/dev/null && return 0; sleep 0.1; done
	echo "bench/snapshot.sh: the guest never ticked: $(tail -n 3 "$1")" >&2
	return 1
}

# ---- hearth: save once ----
"${NX[@]}" "$H" run --kernel "$PROBE" --cmdline "$CMD" "${HDEV[@]}" \
	--api-socket "$work/h.sock" --console "file:$work/h.log" 2>"$work/h.err" </dev/null &
src=$!
wait_tick "$work/h.log"
"$H" ctl "$work/h.sock" pause >/dev/null
t=$(now_ms)
"$H" ctl "$work/h.sock" snapshot "$work/hsnap" >/dev/null
h_save=$(awk -v a="$t" -v b="$(now_ms)" 'BEGIN { printf "%.1f", b - a }')
"$H" ctl "$work/h.sock" stop >/dev/null
wait "$src" || true
src=
h_size=$(du -k --apparent-size -c "$work/hsnap"/* | tail -n 1 | cut -f1)
h_disk=$(du -k -c "$work/hsnap"/* | tail -n 1 | cut -f1)

# ---- QEMU: save once, as its migration to a file ----
qmp() { # SOCKET COMMAND-JSON...: each command's answer, after the greeting
	python3 - "$@" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
def ask(cmd):
    f.write(json.dumps(cmd) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
ask({"execute": "qmp_capabilities"})
for c in sys.argv[2:]:
    cmd = json.loads(c)
    r = ask(cmd)
    if cmd["execute"] == "migrate":
        while ask({"execute": "query-migrate"})["return"].get("status") not in ("completed", "failed"):
            time.sleep(0.002)
    print(json.dumps(r))
PY
}
"${NX[@]}" "${QEMU[@]}" -qmp "unix:$work/q.qmp,server=on,wait=off" >"$work/q.log" 2>"$work/q.err" </dev/null &
src=$!
wait_tick "$work/q.log"
# not stopped first: QEMU migrates the run state too, and a guest saved
# paused comes back paused; a migration of a running guest stops it at the
# end of the copy (for a guest this idle, one pass)
t=$(now_ms)
qmp "$work/q.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $work/qsnap\"}}" >/dev/null
q_save=$(awk -v a="$t" -v b="$(now_ms)" 'BEGIN { printf "%.1f", b - a }')
kill "$src" 2>/dev/null || true
wait "$src" || true
src=
q_size=$(du -k --apparent-size "$work/qsnap" | cut -f1)
q_disk=$(du -k "$work/qsnap" | cut -f1)

# ---- restores and cold boots, alternated so both VMMs see the same drift ----
: >"$work/h.restore"; : >"$work/q.restore"; : >"$work/h.boot"; : >"$work/q.boot"
bad=0
for _ in $(seq "$REPEAT"); do
	"${NX[@]}" "$STAMP" --marker "PROBE: tick" --rss-exclude "$MEMB" --timeout 120 -- \
		"$H" run --restore "$work/hsnap" --disk "path=$work/disk.img" --net tap=hsnap0 \
		>>"$work/h.restore" 2>>"$work/stamp.err" || bad=$((bad + 1))
	"${NX[@]}" "$STAMP" --marker "PROBE: tick" --rss-exclude "$MEMB" --timeout 120 -- \
		"${QEMU[@]}" -incoming "exec:cat $work/qsnap" >>"$work/q.restore" 2>>"$work/stamp.err" ||
		bad=$((bad + 1))
	"${NX[@]}" "$STAMP" --marker "PROBE: ready" --rss-exclude "$MEMB" --timeout 120 -- \
		"$H" run --kernel "$PROBE" --cmdline "$CMD" "${HDEV[@]}" \
		>>"$work/h.boot" 2>>"$work/stamp.err" || bad=$((bad + 1))
	"${NX[@]}" "$STAMP" --marker "PROBE: ready" --rss-exclude "$MEMB" --timeout 120 -- \
		"${QEMU[@]}" >>"$work/q.boot" 2>>"$work/stamp.err" || bad=$((bad + 1))
done

# median COLUMN FILE: of the runs whose marker appeared
median() {
	awk -v c="$1" '$1 >= 0 { print $c }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
			printf "%.1f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
failed() { awk '$1 < 0' "$1" | wc -l; }
hr=$(median 1 "$work/h.restore") qr=$(median 1 "$work/q.restore")
hb=$(median 1 "$work/h.boot") qb=$(median 1 "$work/q.boot")
hm=$(median 3 "$work/h.restore") qm=$(median 3 "$work/q.restore")
kvm=$([ -e /sys/module/kvm_pvm ] && echo PVM || echo "VMX/SVM")
echo "Host: $(uname -r), $(nproc) CPUs, KVM: $kvm; $(qemu-system-x86_64 --version | head -1); REPEAT=$REPEAT; guest: probe, 2 vCPUs, $MEM, one virtio disk and NIC"
echo
echo "| | hearth | QEMU microvm | hearth/QEMU |"
echo "|---|---|---|---|"
echo "| save a paused guest (ms) | $h_save | $q_save | $(ratio "$h_save" "$q_save") |"
echo "| snapshot size, apparent / on disk (KiB) | $h_size / $h_disk | $q_size / $q_disk | $(ratio "$h_disk" "$q_disk") on disk |"
echo "| restore: fork to the guest's first tick (ms, median) | $hr | $qr | $(ratio "$hr" "$qr") |"
echo "| cold boot: fork to the probe's first line (ms, median) | $hb | $qb | $(ratio "$hb" "$qb") |"
echo "| restored VMM's RSS outside guest RAM at its first tick (KiB, median) | $hm | $qm | $(ratio "$hm" "$qm") |"
echo "| runs without their marker (hearth restore / QEMU restore / hearth boot / QEMU boot) | $(failed "$work/h.restore") / $(failed "$work/q.restore") / $(failed "$work/h.boot") / $(failed "$work/q.boot") | | |"
[ "$bad" = 0 ] || { echo "bench/snapshot.sh: $bad stamped run(s) failed:" >&2; tail -n 5 "$work/stamp.err" >&2; }
