#!/usr/bin/env bash
# hearth's own memory with an idle 2-vCPU guest, outside guest RAM, in the
# host's transparent huge page mode and, where this test may switch it
# (root), in both `always` and `madvise` (it restores the mode on exit;
# meson runs it alone). Two figures from /proc/PID/smaps:
#
# - private: what this VM costs the host and nobody shares: every
#   anonymous page (heap, thread stacks, io_uring rings, the vCPUs' run
#   areas) and every page hearth dirtied in a file mapping. At or under
#   PRIVATE_KIB (512).
# - total: private plus the clean pages of hearth's own executable that
#   are mapped (its code and read-only data: page cache, shared by every
#   hearth on the host, and how many are mapped depends on the kernel's
#   fault-around as much as on what runs). At or under TOTAL_KIB (2048):
#   a guard against a binary that grows, not the VM's cost.
#
# Guest RAM is the one anonymous mapping of exactly --memory bytes marked
# MADV_DONTDUMP ("dd" in VmFlags; src/mem/guest_mem.c), so it is told apart
# by what hearth does to it, not by its address or by being the largest.
# Shared libraries' clean pages count nowhere (a dynamically linked build:
# they are libc's, shared with every process). Rss rather than Pss, so
# other hearth processes running at the same time change nothing. The
# check is the largest of a few samples. docs/testing.md says why private
# memory is the limit that matters (it was the total until the seccomp
# filters and the jail made the code 0.05 MiB larger than its 1.5 MiB).
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH
PRIVATE_KIB=512
TOTAL_KIB=2048
MEM_MIB=256

# ASan's shadow memory and quarantine make an ASan build's RSS meaningless.
if [[ ${HEARTH_SANITIZE:-none} == *address* ]] || grep -q __asan_init "$HEARTH_REAL"; then
	echo "SKIP: an AddressSanitizer build: its shadow memory is resident memory no hearth user has"
	exit 77
fi

# rss_outside_ram PID: prints "PRIVATE_KIB TOTAL_KIB RAM_MAPPINGS" as above.
rss_outside_ram() {
	local exe
	exe=$(readlink "/proc/$1/exe")
	awk -v ram_kib=$((MEM_MIB * 1024)) -v exe="$exe" '
	function done_one() {
		if (!have) return
		if (sz == ram_kib && flags ~ / dd/ && path == "") { ram++ }
		else if (path == exe) { priv += anon; shared += rss - anon }
		else if (path ~ /^\//) { priv += anon + sdirty }
		else { priv += rss }
	}
	/^[0-9a-f]+-[0-9a-f]+ / { done_one(); have = 1; path = $6; sz = rss = anon = sdirty = 0; flags = "" }
	/^Size:/ { sz = $2 }
	/^Rss:/ { rss = $2 }
	/^Anonymous:/ { anon = $2 }
	/^Shared_Dirty:/ { sdirty = $2 }
	/^VmFlags:/ { flags = $0 }
	END { done_one(); print priv + 0, priv + shared, ram + 0 }' "/proc/$1/smaps"
}

# measure LABEL: boots the idle guest on 2 vCPUs, samples, checks.
measure() {
	local label=$1 pid max=0 maxt=0 kib tot ram n
	"$H" run --kernel "$MINI_IDLE" --cpus 2 --memory ${MEM_MIB}M --timeout 600s \
		>"$TMP/out" 2>"$TMP/err" </dev/null &
	pid=$!
	# the guest's first line: everything hearth sets up is in place (the
	# bound is for emulated hosts, 10-50x slower; a normal host needs ms)
	for _ in $(seq 1200); do
		grep -q "^hearth-mini: hello" "$TMP/out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q "^hearth-mini: hello" "$TMP/out"; then
		not_ok "$label: the idle guest did not start"
		sed 's/^/#   stderr: /' "$TMP/err" | head -20
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return
	fi
	for n in 1 2 3; do
		sleep 0.5
		read -r kib tot ram < <(rss_outside_ram "$pid")
		[ "$ram" = 1 ] || break
		[ "$kib" -gt "$max" ] && max=$kib
		[ "$tot" -gt "$maxt" ] && maxt=$tot
	done
	if [ "$ram" != 1 ]; then
		not_ok "$label: found $ram guest RAM mappings in smaps, wanted 1"
	elif [ "$max" -le "$PRIVATE_KIB" ] && [ "$maxt" -le "$TOTAL_KIB" ]; then
		ok "$label: $max KiB private outside guest RAM (limit $PRIVATE_KIB), $maxt KiB with hearth's code (limit $TOTAL_KIB)"
	else
		not_ok "$label: $max KiB private (limit $PRIVATE_KIB), $maxt KiB with hearth's code (limit $TOTAL_KIB)"
		awk '/^[0-9a-f]+-[0-9a-f]+ /{m=$0} /^Rss:/{if ($2 > 0) print "#   " $2 " kB " m} /^Anonymous:/{if ($2 > 0) print "#     of them " $2 " kB anonymous"} /^AnonHugePages:/{if ($2 > 0) print "#     of them " $2 " kB on huge pages"}' \
			"/proc/$pid/smaps"
	fi
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

THP=/sys/kernel/mm/transparent_hugepage/enabled
mode=
[ -r $THP ] && mode=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $THP)
if [ -n "$mode" ] && [ -w $THP ] && echo "$mode" >$THP 2>/dev/null; then
	trap 'echo "$mode" >$THP; rm -rf "$TMP"' EXIT
	for m in always madvise; do
		echo "$m" >$THP
		measure "THP $m"
	done
else
	echo "# THP mode ${mode:-unknown}; cannot switch it here (not root?): measured in this mode only"
	measure "THP ${mode:-unknown}"
fi
finish
