#!/usr/bin/env bash
# Boots the probe guest (tests/guest/probe): its tests run inside the guest
# at CPL3 and report on the serial port; here we check what it reported and
# that hearth passed its verdict on as the exit code.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH
ALL="probe.tests=serial,smp,timer,pit,cpuloop probe.iters=1000000"

for n in 1 2 4; do
	expect_exit 0 "probe: every test passes on $n vCPU(s)" -- \
		"$H" run --kernel "$PROBE" --cpus "$n" --memory 64M --timeout 60s --cmdline "$ALL"
	expect_grep "$TMP/out" "^PROBE: test=smp mptable=$n madt=$n expected=$n up=$n .*result=pass" \
		"probe: all $n vCPU(s) listed by MP table and MADT, started by INIT/SIPI, checked in with distinct APIC IDs"
	expect_grep "$TMP/out" "^PROBE: done pass=5 fail=0" "probe: 5 tests passed on $n vCPU(s)"
done
expect_grep "$TMP/out" '^PROBE: test=serial chars=!"#\$%&'"'"'\(\)\*\+,-\./0123456789:;<=>\?@ABCDEFGHIJKLMNOPQRSTUVWXYZ\[\\\]\^_`abcdefghijklmnopqrstuvwxyz\{\|\}~ result=pass' \
	"probe: serial output intact, UART registers behave"
expect_grep "$TMP/out" "^PROBE: test=timer ticks=[0-9]+ .*result=pass" "probe: LAPIC timer interrupts arrive"
expect_grep "$TMP/out" "^PROBE: test=pit pin=2 irqs=[0-9]+ result=pass" \
	"probe: PIT IRQ 0 arrives on the I/O APIC pin the MP table names"
expect_grep "$TMP/out" "^PROBE: ready cmdline=\"$ALL\"" "probe: command line reaches the guest"

printf '{"kernel": "%s", "cpus": 2, "memory": "64M", "cmdline": "probe.tests=smp probe.status=9"}' \
	"$PROBE" >"$TMP/vm.json"
expect_exit 9 "probe: a --config file sets up the same VM" -- "$H" run --config "$TMP/vm.json"
expect_grep "$TMP/out" "^PROBE: test=smp mptable=2 madt=2 expected=2 up=2" "probe: 2 vCPUs from the file"
expect_exit 0 "probe: the command line wins over the file" -- \
	"$H" run --config "$TMP/vm.json" --cmdline "probe.tests=serial"
expect_exit 77 "probe: status passes through" -- \
	"$H" run --kernel "$PROBE" --cmdline "probe.tests=serial probe.status=77"
expect_exit 1 "probe: a failing guest test fails the run" -- \
	"$H" run --kernel "$PROBE" --cmdline "probe.tests=serial,nosuchtest"
expect_grep "$TMP/out" "^PROBE: test=nosuchtest unknown result=fail" "probe: the failure is reported"

expect_exit 124 "probe: an idle guest meets --timeout" -- \
	"$H" run --kernel "$PROBE" --cpus 2 --timeout 1s --cmdline "probe.tests=idle"
expect_grep "$TMP/out" "^PROBE: idle" "probe: idled after its marker"

expect_exit 0 "probe: console to a file" -- \
	"$H" run --kernel "$PROBE" --console "file:$TMP/probe.log" --cmdline "probe.tests=serial"
expect_grep "$TMP/probe.log" "^PROBE: done pass=1 fail=0" "probe: console file holds the report"
finish
