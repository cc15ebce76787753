#!/usr/bin/env bash
# bench/box.sh: every benchmark in one run, hearth side by side with QEMU
# (-accel kvm) on the same machine: bench/run.sh (start, exit, memory, CPU
# loop, Linux to /init), bench/blk.sh, bench/net.sh, bench/iscsi.sh and
# bench/debian.sh (a Debian 12 guest to its login prompt).
# Writes one file, OUT (default build/bench-box.md): a summary table of
# hearth/QEMU ratios over all their rows, then each script's own tables,
# with the date, the commit and the command. stderr shows progress and each
# script's per-run figures (also kept in OUT with .log for .md).
#
#   bench/box.sh [--no-linux] [--no-debian]
#                           # --no-linux: run.sh without its Linux row;
#                           # --no-debian: without bench/debian.sh
#   HEARTH_DEBIAN_IMAGE=$(bash scripts/debian-image.sh | tail -1) \
#       scripts/box.sh -- bench/box.sh   # the same, inside the box, by hand
#
# Where /dev/kvm is missing or unusable, it installs and builds on this host
# (the box sees the host's files; building under emulation would take many
# times as long), then runs itself inside the box (scripts/box.sh, a KVM
# host under QEMU's TCG) and the file comes back out through the checkout.
# The Debian image (scripts/debian-image.sh) is found, or built, on the
# host too and named to the box in HEARTH_DEBIAN_IMAGE; where it cannot be
# had, the debian section is left out.
# In the box (BOX=1) the work per run is scaled down so that the whole run
# takes about 20 minutes, and the Debian guest about 10 more: SCALE=10
# (bench/common.sh; bench/debian.sh: its deadlines x10), RUNS=5,
# LINUX_RUNS=2, REPEAT=3, unless set. On a host with /dev/kvm it runs there
# with each script's own defaults. Needs root (net.sh: a network namespace
# and a TAP; the box runs its command as root).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/bench-box.md}
linux=1 debian=1
for a in "$@"; do
	case $a in
	--no-linux) linux=0 ;;
	--no-debian) debian=0 ;;
	*) echo "bench/box.sh: unknown option $a (--no-linux, --no-debian)" >&2; exit 2 ;;
	esac
done

if [ -z "${BOX:-}" ] && { [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; }; then
	bash scripts/deps.sh --bench --box
	[ -f build/build.ninja ] || meson setup build >/dev/null
	ninja -C build >/dev/null
	# the box is an SVM host, not PVM: its Linux guest is the unpatched one
	[ $linux = 0 ] || bash tests/guest/linux/build.sh --no-pvm >/dev/null
	# the Debian image: the box cannot build it (hours under emulation)
	if [ $debian = 1 ] && [ -z "${HEARTH_DEBIAN_IMAGE:-}" ]; then
		if img=$(bash scripts/debian-image.sh | tail -1) && [ -f "$img" ]; then
			export HEARTH_DEBIAN_IMAGE=$img
		else
			echo "bench: no Debian image (scripts/debian-image.sh failed): the debian section is left out" >&2
			set -- "$@" --no-debian
		fi
	fi
	export BENCH_COMMIT
	BENCH_COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- bench src include || echo ' (with uncommitted changes)')"
	export BENCH_CMD=${BENCH_CMD:-bench/box.sh${*:+ $*}}
	echo "bench: no usable /dev/kvm here: running in the box (scripts/box.sh)" >&2
	exec bash scripts/box.sh --timeout "${BENCH_BOX_TIMEOUT:-2700}" -- bench/box.sh "$@"
fi

if [ -n "${BOX:-}" ]; then
	export SCALE=${SCALE:-10} RUNS=${RUNS:-5} LINUX_RUNS=${LINUX_RUNS:-2} REPEAT=${REPEAT:-3}
fi
BENCH_COMMIT=${BENCH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
BENCH_CMD=${BENCH_CMD:-bench/box.sh${*:+ $*}}
mkdir -p "$(dirname "$OUT")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
LOG=${OUT%.md}.log
# shellcheck disable=SC2016 # the $ in the pattern is literal
qcpu=${QEMU_CPU:-$(sed -n 's/^QEMU_CPU=${QEMU_CPU:-\(.*\)}$/\1/p' bench/common.sh)}
: >"$LOG"
start=$(date +%s)
when=$(date -u +%Y-%m-%dT%H:%MZ)

# section NAME SCRIPT ARGS...: runs one script, its tables into
# $work/NAME.md, its stderr to the terminal and the log
declare -A took status
section() {
	local name=$1 t0 st=0
	shift
	echo "bench: === $name ($*) ===" | tee -a "$LOG" >&2
	t0=$(date +%s)
	"$@" >"$work/$name.md" 2> >(tee -a "$LOG" >&2) || st=$?
	took[$name]=$(($(date +%s) - t0)) status[$name]=$st
	echo "bench: $name: exit $st after ${took[$name]} s" | tee -a "$LOG" >&2
}

# summary: one line per hearth/QEMU row of every table: the hearth and
# QEMU figures (median time or rate), hearth/QEMU, and hearth's advantage
# (QEMU/hearth for times and memory, where less is better; hearth/QEMU
# for rates), so that below 1.00x always means hearth did worse.
summary() {
	awk -F'|' -v sec="$1" '
	function num(s) { gsub(/^ +/, "", s); if (s ~ /^n\/a/) return "n/a"; split(s, w, /[ \/(]+/); return w[1] }
	function out(label, h, q, unit, lower) {
		if (h + 0 > 0 && q + 0 > 0) {
			r = sprintf("%.2fx", h / q); a = sprintf("%.2fx", lower ? q / h : h / q)
			if ((lower ? q / h : h / q) < 1) a = "**" a "**"
		} else { r = "n/a"; a = "n/a" }
		printf "| %s | %s | %s | %s | %s | %s |\n", sec, label " (" unit ")", h, q, r, a
	}
	/^\|---/ { next }
	sec == "debian" && /^\| Debian 12 guest, measure/ {
		for (i = 1; i <= NF; i++) { n = $i; gsub(/^ +| +$/, "", n); col[i] = n }
		next
	}
	/^\| (guest, measure|workload)/ { hdr = $0; next }
	!/^\| / { next }
	{ label = $2; gsub(/^ +| +$/, "", label) }
	sec == "boot" {
		if (label ~ /kvmtool|CPU loop/ || $3 ~ /n\/a \(not/) next
		lower = 1; unit = (label ~ /RSS/) ? "MiB" : "ms, median"
		sub(/ \(MiB, median of 5\)/, "", label); sub(/ \(median \/ min of [0-9]+\)/, "", label)
		out(label, num($3), num($4), unit, 1); next
	}
	sec == "blk" || sec == "iscsi" { out(label, num($3), num($4), "IOPS", 0); next }
	sec == "net" { out(label, num($3), num($4), hdr ~ /Gbit/ ? "Gbit/s" : "frames/s", 0); next }
	sec == "debian" {
		# one line per QEMU column that has a figure (microvm may have none)
		unit = (label ~ /\(MiB/) ? "MiB" : "s, median"
		sub(/ \((s|MiB[^)]*)\)$/, "", label)
		for (i = 4; i <= NF; i++)
			if (col[i] ~ /^QEMU/ && num($i) + 0 > 0) out(label ", vs " col[i], num($3), num($i), unit, 1)
		next
	}
	' "$work/$1.md"
}

# write_out: OUT from the sections run so far (rewritten after each, so
# that a run cut short still leaves what it measured)
write_out() {
	local s
	{
	echo "# hearth and QEMU side by side: one run of bench/box.sh"
	echo
	if [ -n "${BOX:-}" ]; then
		echo "**Measured under nested emulation**: hearth and QEMU (\`-accel kvm\`) ran as KVM"
		echo "guests' VMMs inside the box (scripts/box.sh): QEMU TCG \`-cpu max\`, $(nproc) emulated"
		echo "CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Debian kernel $(uname -r),"
		echo "$(lsmod | awk '$1 ~ /^kvm_(amd|intel)$/ { print $1 }' | head -1). Absolute figures are 10-50x below a real host's; the ratios are what"
		echo "to read, and they include the emulator's own costs (see docs/performance.md)."
	else
		echo "Host: $(uname -r), $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1))."
	fi
	echo
	echo "- date: $when; commit: $BENCH_COMMIT; $(qemu-system-x86_64 --version | head -1)"
	echo "- command: \`$BENCH_CMD\`"
	echo "- knobs: QEMU -cpu $qcpu; SCALE=${SCALE:-1} RUNS=${RUNS:-20} LINUX_RUNS=${LINUX_RUNS:-3} REPEAT=${REPEAT:-3}; whole run $(($(date +%s) - start)) s" \
		"(boot ${took[boot]:--} s, blk ${took[blk]:--} s, net ${took[net]:--} s, iscsi ${took[iscsi]:--} s, debian ${took[debian]:--} s)"
	[ $debian = 1 ] || echo "- debian left out (--no-debian, or no Debian image)"
	for s in "${sections[@]}"; do
		[ -n "${status[$s]:-}" ] || { echo "- **$s not run yet** (the run was cut short)"; continue; }
		[ "${status[$s]}" = 0 ] || echo "- **$s failed** (exit ${status[$s]}): its rows are missing or partial; see $LOG"
	done
	echo
	echo "Last column: hearth's advantage, QEMU/hearth for times and memory (less is"
	echo "better), hearth/QEMU for rates; below 1.00x (bold) hearth did worse."
	echo
	echo "| bench | row | hearth | QEMU | hearth/QEMU | hearth's advantage |"
	echo "|---|---|---|---|---|---|"
	for s in "${sections[@]}"; do [ -z "${status[$s]:-}" ] || summary "$s"; done
	for s in "${sections[@]}"; do
		[ -n "${status[$s]:-}" ] || continue
		echo
		echo "## $s: bench/$([ "$s" = boot ] && echo run || echo "$s").sh"
		echo
		cat "$work/$s.md"
	done
	} >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
}

sections=(boot blk net iscsi)
[ $debian = 0 ] || sections+=(debian)
runargs=()
[ $linux = 1 ] || runargs=(--no-linux)
section boot bash bench/run.sh "${runargs[@]}"
write_out
section blk bash bench/blk.sh
write_out
section net bash bench/net.sh
write_out
section iscsi bash bench/iscsi.sh
write_out
if [ $debian = 1 ]; then
	section debian bash bench/debian.sh
	write_out
fi
echo "bench: wrote $OUT (per-run figures: $LOG)" >&2
cat "$OUT"
