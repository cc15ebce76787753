#!/usr/bin/env bash
# Boots Debian's stock cloud kernel (bzImage, 2 vCPUs) and checks what it
# reaches: its banner, our exact command line, our e820 map, both CPUs and
# the I/O APIC and the PCI root bridge found through our ACPI tables. On a
# VMX/SVM host it goes on to panic for want of a root disk and, with
# panic=-1 and no reboot= (the kernel's own restart order, ACPI first),
# resets (exit 120); on a PVM host it stops at an instruction KVM's
# emulator cannot run (exit 121, with a hint).
. "$(dirname "$0")/../integration/lib.sh"
require_kvm
kernel=$(bash "$(dirname "$0")/../guest/stock/fetch.sh" | tail -1)
CMD="console=ttyS0 earlyprintk=ttyS0 noxsave panic=-1 hearth.stock=1"
LOG=$TMP/console.log

if [ -e /sys/module/kvm_pvm ]; then want=121; else want=120; fi
expect_exit $want "stock Debian kernel runs until it stops" -- \
	"$HEARTH" run --kernel "$kernel" --cpus 2 --memory 512M --cmdline "$CMD" \
	--timeout 60s --console "file:$LOG"
expect_grep "$LOG" "Linux version 6\.1\.[0-9]+-[0-9]+-cloud-amd64" "its banner"
expect_grep "$LOG" "Command line: $CMD[[:cntrl:]]*\$" "our exact command line"
expect_grep "$LOG" "BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable" "e820: low RAM"
expect_grep "$LOG" "BIOS-e820: \[mem 0x000000000009fc00-0x000000000009ffff\] reserved" "e820: EBDA"
expect_grep "$LOG" "BIOS-e820: \[mem 0x00000000000e0000-0x00000000000fffff\] reserved" "e820: tables"
expect_grep "$LOG" "BIOS-e820: \[mem 0x0000000000100000-0x000000001fffffff\] usable" "e820: RAM from 1 MiB"
if [ "$(grep -c 'BIOS-e820:' "$LOG")" = 4 ]; then ok "e820: nothing else"; else not_ok "e820: $(grep -c 'BIOS-e820:' "$LOG") entries"; fi
expect_grep "$LOG" "ACPI: Using ACPI \(MADT\) for SMP configuration information" "CPUs found through the MADT"
expect_grep "$LOG" "smpboot: Allowing 2 CPUs" "both vCPUs listed"
expect_grep "$LOG" "INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2" "IRQ 0 override to GSI 2"
expect_grep "$LOG" "ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00\]\)" "the PCI root bridge from the DSDT"
if [ $want = 121 ]; then
	expect_grep "$TMP/err" "KVM internal error .* at RIP 0x[0-9a-f]+, instruction bytes: [0-9a-f ]+" "where it stopped"
	expect_grep "$TMP/err" "hint: this host's KVM is PVM" "the PVM hint"
fi
finish
