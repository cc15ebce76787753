#!/usr/bin/env bash
# Boots the mini guests and checks what a user sees: console output on
# stdout, the guest's status as the exit code, reset/crash/timeout codes,
# the boot marker, the console log file, SMP start-up.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH

expect_exit 42 "guest status passes through" -- "$H" run --kernel "$MINI_EXIT"
expect_grep "$TMP/out" "^hearth-mini: hello" "guest console on stdout"
if [ -s "$TMP/err" ]; then not_ok "stderr not empty at default log level"; else ok "stderr quiet"; fi

expect_exit 42 "2 vCPUs" -- "$H" run --kernel "$MINI_EXIT" --cpus 2
expect_exit 42 "4 vCPUs, 1 GiB" -- "$H" run --kernel "$MINI_EXIT" --cpus 4 --memory 1G
expect_exit 42 "RAM above 4 GiB" -- "$H" run --kernel "$MINI_EXIT" --memory 5G
expect_exit 42 "minimal CPU template" -- "$H" run --kernel "$MINI_EXIT" --cpu-template minimal --cpu-features -avx2

expect_exit 43 "QEMU isa-debug-exit convention" -- "$H" run --kernel "$MINI_EXIT" --exit-port 0x600 --exit-port qemu
expect_exit 43 "isa-debug-exit at a chosen port" -- "$H" run --kernel "$MINI_EXIT" --exit-port 0x600 --exit-port qemu:0x501

expect_exit 42 "boot marker logged" -- "$H" run --kernel "$MINI_EXIT" --log-level info
expect_grep "$TMP/err" "guest boot marker 7 at [0-9.]+ ms" "marker line with a time"

expect_exit 42 "console to a file" -- "$H" run --kernel "$MINI_EXIT" --console "file:$TMP/con.log"
expect_grep "$TMP/con.log" "^hearth-mini: hello" "console file holds the output"
if [ -s "$TMP/out" ]; then not_ok "stdout not empty with a console file"; else ok "stdout empty with a console file"; fi

expect_exit 42 "console none" -- "$H" run --kernel "$MINI_EXIT" --console none
if [ -s "$TMP/out" ]; then not_ok "stdout not empty with --console none"; else ok "stdout empty with --console none"; fi

expect_exit 120 "i8042 reset" -- "$H" run --kernel "$MINI_RESET"
expect_exit 120 "triple fault: a reset, as on a PC" -- "$H" run --kernel "$MINI_TRIPLE"
expect_grep "$TMP/err" "vcpu0: triple fault at RIP 0x[0-9a-f]+" "triple fault is reported"

# An instruction KVM's emulator cannot run: on PVM hosts guest kernel code is
# emulated, so this is a clear crash report; elsewhere it runs and exits 0.
if [ -e /sys/module/kvm_pvm ]; then
	expect_exit 121 "emulation failure on PVM" -- "$H" run --kernel "$MINI_EMUFAIL"
	expect_grep "$TMP/err" "vcpu0: KVM internal error .* at RIP 0x100018, instruction bytes: f3 0f b8 c0" \
		"internal error names vCPU, RIP and bytes"
	expect_grep "$TMP/err" "hint: this host's KVM is PVM" "PVM hint given"
else
	expect_exit 0 "popcnt runs natively" -- "$H" run --kernel "$MINI_EMUFAIL"
fi

start=$(date +%s%N)
expect_exit 124 "timeout" -- "$H" run --kernel "$MINI_IDLE" --timeout 300ms
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -lt "$(scaled 5000)" ]; then ok "timeout stopped the guest promptly (${ms} ms)"; else not_ok "timeout took ${ms} ms"; fi

"$H" run --kernel "$MINI_IDLE" --cpus 2 --shutdown-timeout 0 >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
sleep 0.5
kill -TERM "$pid"
got=0
wait "$pid" || got=$?
if [ "$got" = 143 ]; then ok "SIGTERM with --shutdown-timeout 0 stops the guest at once (exit 143)"; else not_ok "SIGTERM: exit $got"; fi
finish
