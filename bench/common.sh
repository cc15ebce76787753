# shellcheck shell=bash
# bench/common.sh: the set-up every bench script starts with (sourced from
# the repository's top directory): what the benchmarks need installed
# (QEMU and the other peers), an up-to-date build, and the names and helpers
# they all use. REPEAT (runs per cell) defaults to 3.
#
# Inside the box (scripts/box.sh sets BOX=1) nothing is installed or built:
# the box sees the host's packages, and builds belong on the host (under
# emulation they take many times as long); the build must already be there.
# SCALE=N divides the amount of work per run (iterations, requests, frames)
# by N, for hosts where everything is slow (bench/box.sh uses it in the box);
# rates stay comparable, only their spread grows. Default 1.
BUILD=${BUILD:-build}
if [ -n "${BOX:-}" ]; then
	for f in hearth bench/stamp bench/cpuloop tests/guest/probe/probe.elf; do
		[ -e "$BUILD/$f" ] || { echo "bench: $BUILD/$f is missing: build on the host first (ninja -C $BUILD)" >&2; exit 1; }
	done
else
	bash scripts/deps.sh --bench
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
	ninja -C "$BUILD" >/dev/null
fi
H=$BUILD/hearth
STAMP=$BUILD/bench/stamp
PROBE=$BUILD/tests/guest/probe/probe.elf
REPEAT=${REPEAT:-3}
SCALE=${SCALE:-1}
HZ=$("$BUILD/bench/cpuloop" --tsc-hz)
# Where disk images go: not a tmpfs (no O_DIRECT there on Linux 6.1). In the
# box /var/tmp is on its tmpfs overlay and /tmp is an ext4 scratch disk.
IMG_DIR=${IMG_DIR:-$([ -n "${BOX:-}" ] && echo /tmp || echo /var/tmp)}
# QEMU's CPU model, for every script: the host's CPU as KVM offers it.
# arch-capabilities=off: QEMU 7.2 cannot start with -cpu host on PVM hosts
# otherwise; kvm-pv-ipi=off as hearth does there. Both are plain feature
# switches, accepted on Intel and AMD hosts alike (the box is AMD).
QEMU_CPU=${QEMU_CPU:-host,arch-capabilities=off,kvm-pv-ipi=off}

# scaled N: N / SCALE, at least 1
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n / s); print (v > 0 ? v : 1) }'; }

# ratio A B: "A/B" as "1.23x", "n/a" unless both are numbers above 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
