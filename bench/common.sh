# shellcheck shell=bash
# bench/common.sh: the set-up every bench script starts with (sourced from
# the repository's top directory): what the benchmarks need installed
# (QEMU and the other peers), an up-to-date build, and the names and helpers
# they all use. REPEAT (runs per cell) defaults to 3.
bash scripts/deps.sh --bench
BUILD=${BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
H=$BUILD/hearth
STAMP=$BUILD/bench/stamp
PROBE=$BUILD/tests/guest/probe/probe.elf
REPEAT=${REPEAT:-3}
HZ=$("$BUILD/bench/cpuloop" --tsc-hz)

# ratio A B: "A/B" as "1.23x", "n/a" unless both are numbers above 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "n/a" }'; }
