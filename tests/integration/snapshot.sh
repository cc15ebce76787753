#!/usr/bin/env bash
# Snapshot and restore (docs/snapshot.md) with the probe guest: a guest
# that set up its disk and counts heartbeats is paused, saved, stopped, and
# resumed by a new hearth from the snapshot: its heartbeat goes on from
# where it was (not from 0), its disk still works, and it ends with its own
# verdict. Then every bad snapshot and bad request is refused with one line
# and exit 125 (or an HTTP error), with nothing started.
. "$(dirname "$0")/lib.sh"
require_kvm
# pause/resume in the box: as api.sh (lib.sh's box_pin_hearth says why)
box_pin_hearth 1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
H=$HEARTH
SNAP=$TMP/snap

wait_for() { # FILE REGEX: up to 20 s (scaled)
	for _ in $(seq "$(scaled 200)"); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
last_tick() { grep -Eo '^PROBE: tick [0-9]+' "$1" | tail -n 1 | awk '{print $3}'; }
ctl() { "$H" ctl "$@" >"$TMP/ctl.out" 2>"$TMP/ctl.err"; }
api() { # SOCK METHOD PATH [curl args]: the status code
	local s=$1 m=$2 p=$3
	shift 3
	curl -s -m 30 -o "$TMP/body" -w '%{http_code}' -X "$m" --unix-socket "$s" "$@" "http://localhost$p" || true
}

truncate -s 1M "$TMP/disk.img"
TICKS=$(scaled 3000)
"$H" run --kernel "$PROBE" --cpus 2 --memory 128M --disk "path=$TMP/disk.img" \
	--cmdline "probe.tests=blk,tick,blk probe.ticks=$TICKS" --api-socket "$TMP/a.sock" \
	--console "file:$TMP/src.log" >"$TMP/src.out" 2>"$TMP/src.err" </dev/null &
src=$!
wait_for "$TMP/src.log" "^PROBE: tick 3$" || not_ok "the source guest never ticked"
expect_grep "$TMP/src.log" "^PROBE: test=blk-readback disk=0 result=pass" "the source guest wrote its disk"

# a running guest is not saved: it would change under the copy
if ctl "$TMP/a.sock" snapshot "$SNAP"; then not_ok "a running guest was saved"; else
	expect_grep "$TMP/ctl.err" "409 the guest must be paused" "a running guest: 409, pause first"
fi
ctl "$TMP/a.sock" pause && ok "paused" || not_ok "pause: $(cat "$TMP/ctl.err")"
[ "$(api "$TMP/a.sock" PUT /v1/vm/snapshot -d '{"path":"relative/dir"}')" = 400 ] &&
	ok "a relative path: 400" || not_ok "a relative path: $(cat "$TMP/body")"
[ "$(api "$TMP/a.sock" PUT /v1/vm/snapshot -d '{}')" = 400 ] &&
	ok "no path: 400" || not_ok "no path: $(cat "$TMP/body")"
[ "$(api "$TMP/a.sock" PUT /v1/vm/snapshot -d '{"path":7}')" = 400 ] &&
	ok "a path that is not a string: 400" || not_ok "path 7: $(cat "$TMP/body")"
[ "$(api "$TMP/a.sock" PUT /v1/vm/snapshot -d "{\"path\":\"$TMP/no/such/parent\"}")" = 400 ] &&
	ok "a directory whose parent is missing: 400" || not_ok "missing parent: $(cat "$TMP/body")"
before=$(last_tick "$TMP/src.log")
if ctl "$TMP/a.sock" snapshot "$SNAP"; then ok "snapshot of the paused guest"; else
	not_ok "snapshot: $(cat "$TMP/ctl.err")"
fi
ls -l "$SNAP" | sed 's/^/# /'
[ -f "$SNAP/state" ] && [ -f "$SNAP/memory" ] && ok "state and memory files" || not_ok "files: $(ls "$SNAP")"
size=$(stat -c %s "$SNAP/memory" 2>/dev/null || echo 0)
used=$(($(stat -c %b "$SNAP/memory" 2>/dev/null || echo 0) * 512))
[ "$size" = $((128 << 20)) ] && ok "the memory file holds all 128 MiB" || not_ok "memory file: $size bytes"
# the probe touches a few MiB at most: the rest are holes
[ "$used" -lt $((16 << 20)) ] && ok "the memory file is sparse ($((used >> 10)) KiB on disk)" ||
	not_ok "the memory file is not sparse: $used bytes on disk"
sleep 0.5
[ "$(last_tick "$TMP/src.log")" = "$before" ] && ok "no tick while paused and saved" || not_ok "ticks moved while paused"
# a snapshot that fails half way (its state file cannot be written: a
# directory holds its temporary name) leaves no state file beside the new
# memory file, so a restore refuses it instead of pairing old and new
ctl "$TMP/a.sock" snapshot "$TMP/pair" || not_ok "snapshot into pair: $(cat "$TMP/ctl.err")"
mkdir "$TMP/pair/.state.tmp"
if ctl "$TMP/a.sock" snapshot "$TMP/pair"; then not_ok "a snapshot whose state cannot be written succeeded"; else
	expect_grep "$TMP/ctl.err" ": 500 cannot write .*/state" "a state file that cannot be written: 500"
fi
[ ! -e "$TMP/pair/state" ] && ok "the failed snapshot left no state file" || not_ok "a state file survived the failed snapshot"
ctl "$TMP/a.sock" stop || true
wait "$src" || true

# ---- restore: the heartbeat goes on, the disk works, the verdict comes ----
restore() { # LOG SOCK: a restored guest in the background; sets $pid
	"$H" run --restore "$SNAP" --disk "path=$TMP/disk.img" --api-socket "$2" \
		--console "file:$1" --timeout 120s >"$TMP/r.out" 2>"$TMP/r.err" </dev/null &
	pid=$!
}
check_restored() { # LOG WHAT
	local first
	if ! wait_for "$1" "^PROBE: tick [0-9]+$"; then
		not_ok "$2: no tick after the restore"; sed 's/^/#   /' "$TMP/r.err" | head; return
	fi
	first=$(grep -Eo '^PROBE: tick [0-9]+' "$1" | head -n 1 | awk '{print $3}')
	grep -q "PROBE: ready" "$1" && not_ok "$2: the guest booted again" || ok "$2: no boot, the guest went on"
	[ "$first" -gt "$before" ] && ok "$2: ticks go on after $before (first $first)" ||
		not_ok "$2: first tick $first, saved after $before"
}
restore "$TMP/r1.log" "$TMP/r1.sock"
check_restored "$TMP/r1.log" "first restore"
# SIGTERM: the probe has no ACPI, so Ctrl-Alt-Del ends its tick test;
# then its second blk test runs on the restored disk
kill -TERM "$pid"
got=0
wait "$pid" || got=$?
[ "$got" = 0 ] && ok "the restored guest ends with its verdict (exit 0)" ||
	{ not_ok "restored guest: exit $got"; sed 's/^/#   /' "$TMP/r.err" | head; tail -n 5 "$TMP/r1.log" | sed 's/^/#   /'; }
expect_grep "$TMP/r1.log" "^PROBE: test=tick ticks=[0-9]+ ctrl-alt-del" "the restored guest's i8042 took the keys"
expect_grep "$TMP/r1.log" "^PROBE: test=blk-readback disk=0 result=pass" "the restored guest's disk works"
check_image "$TMP/disk.img" 0 && ok "the disk holds the pattern" || not_ok "the disk's pattern"
# the snapshot is not changed by a restore: it resumes again
restore "$TMP/r2.log" "$TMP/r2.sock"
check_restored "$TMP/r2.log" "second restore of the same snapshot"
kill -TERM "$pid"
wait "$pid" || true

# ---- many vCPUs: their records grow the buffer past malloc's mmap
# threshold (realloc then moves it with mremap, under the I/O filter) ----
"$H" run --kernel "$PROBE" --cpus 32 --memory 64M --cmdline "probe.tests=tick probe.ticks=$TICKS" \
	--api-socket "$TMP/m.sock" --console "file:$TMP/many.log" >/dev/null 2>"$TMP/many.err" </dev/null &
src=$!
wait_for "$TMP/many.log" "^PROBE: tick 2$" || not_ok "the 32-vCPU guest never ticked"
ctl "$TMP/m.sock" pause || not_ok "pause 32 vCPUs: $(cat "$TMP/ctl.err")"
if ctl "$TMP/m.sock" snapshot "$TMP/many"; then ok "a snapshot of 32 vCPUs"; else
	not_ok "32 vCPUs: $(cat "$TMP/ctl.err")"; tail -n 3 "$TMP/many.err" | sed 's/^/#   /'
fi
ctl "$TMP/m.sock" stop || true
wait "$src" || true
"$H" run --restore "$TMP/many" --console "file:$TMP/many2.log" >/dev/null 2>&1 </dev/null &
pid=$!
wait_for "$TMP/many2.log" "^PROBE: tick [0-9]+$" && ok "the 32 vCPUs restored" || not_ok "the 32-vCPU guest did not go on"
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true

# ---- bad snapshots and bad options: one line, exit 125, nothing runs ----
bad() { # DESCRIPTION REGEX DIR [ARGS...]
	local what=$1 re=$2 dir=$3
	shift 3
	expect_exit 125 "$what" -- "$H" run --restore "$dir" --disk "path=$TMP/disk.img" "$@"
	expect_one_line "$TMP/err" "$what"
	expect_grep "$TMP/err" "$re" "$what: says why"
}
copy() { rm -rf "$TMP/$1" && cp -a --sparse=always "$SNAP" "$TMP/$1"; }
bad "no such snapshot" "No such file" "$TMP/nothing"
copy flip && printf '\x55' | dd of="$TMP/flip/state" bs=1 seek=200 conv=notrunc status=none
bad "a flipped byte in the state" "state" "$TMP/flip"
copy trunc && truncate -s -1 "$TMP/trunc/state"
bad "a truncated state file" "state" "$TMP/trunc"
copy mem && truncate -s 64M "$TMP/mem/memory"
bad "a memory file of the wrong size" "memory" "$TMP/mem"
copy nomem && rm "$TMP/nomem/memory"
bad "no memory file" "memory" "$TMP/nomem"
bad "a snapshot whose state could not be written" "state" "$TMP/pair"
# another hearth version: the header's version field (bytes 16-47) says
# 9.9.9, with the header's CRC-32C (bytes 84-87) made right again
copy ver && python3 - "$TMP/ver/state" <<'PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
def crc32c(data):
    c = 0xFFFFFFFF
    for x in data:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF
b[16:48] = b"9.9.9".ljust(32, b"\0")
b[84:88] = struct.pack("<I", crc32c(bytes(b[:84])))
open(path, "wb").write(b)
PY
bad "a snapshot of another hearth version" "written by hearth 9\.9\.9, this is" "$TMP/ver"
expect_exit 125 "two disks for a one-disk snapshot" -- "$H" run --restore "$SNAP" \
	--disk "path=$TMP/disk.img" --disk "path=$TMP/disk.img,readonly=on"
expect_grep "$TMP/err" "1 disk" "the disk count named"
truncate -s 2M "$TMP/other.img"
expect_exit 125 "a disk of another size than the guest's" -- "$H" run --restore "$SNAP" \
	--disk "path=$TMP/other.img" --console "file:$TMP/other.log"
expect_one_line "$TMP/err" "a disk of another size"
expect_grep "$TMP/err" "the state of disk vda was refused" "a disk of another size: the device named"
[ ! -e "$TMP/other.log" ] && ok "a refused restore leaves no console file" || not_ok "a refused restore left its console file"
expect_exit 125 "--restore with --kernel" -- "$H" run --restore "$SNAP" --kernel "$PROBE" --disk "path=$TMP/disk.img"
expect_one_line "$TMP/err" "--restore with --kernel"
expect_exit 125 "--restore with --memory" -- "$H" run --restore "$SNAP" --memory 256M --disk "path=$TMP/disk.img"
finish
