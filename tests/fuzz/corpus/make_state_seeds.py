#!/usr/bin/env python3
# Writes the seed inputs of fuzz_state: one good record per device as its
# save writes it (docs/state.md has the layout), after the byte that picks
# the device. Run from this directory; the outputs are checked in next to it.
import os
import struct


def rec(kind, body, ver=1):
    return b"HEST" + struct.pack("<HHI", kind, ver, len(body)) + body


def u8(v):
    return b"\x01" + struct.pack("<B", v)


def u16(v):
    return b"\x02" + struct.pack("<H", v)


def u32(v):
    return b"\x03" + struct.pack("<I", v)


def u64(v):
    return b"\x04" + struct.pack("<Q", v)


def blob(b):
    return b"\x05" + struct.pack("<I", len(b)) + b


def write(name, data):
    os.makedirs("state", exist_ok=True)
    with open(os.path.join("state", name), "wb") as f:
        f.write(data)


uart = u8(3) + u8(3) + u8(0x0B) + u8(0x5A) + u8(12) + u8(0) + u8(0xC1) + u8(1) + blob(b"abc")
write("uart", b"\x00" + rec(1, uart))
write("rtc", b"\x01" + rec(2, u8(0x0B) + blob(bytes(range(128)))))
write("i8042", b"\x02" + rec(3, u8(0x45) + u8(0xD1) + u8(8) + blob(b"\x14\xe0\x71")))
pci = u32(0x80001810) + u16(6) + u8(2) + blob(b"\x01" + bytes(31))
write("pci_host", b"\x03" + rec(4, pci))
write("exitdev", b"\x04" + rec(10, blob(bytes([0, 0, 0x20, 0, 0x01, 0x14]))))

# virtio-pci with virtio-rng: negotiated, queue 0 of 16 entries enabled
# on vector 1 with one request served, the config vector pending
ring = u64(0x1000) + u64(0x2000) + u64(0x3000)
vq = rec(6, u8(1) + u16(16) + ring + u8(1) + u8(0) + u16(1) + u16(1) + u16(1) + u8(1) + u8(0))
common = u32(0) + u32(1) + u64(1 << 32 | 1 << 29) + u16(0) + u16(0) + u8(15) + u8(0) + u8(0)
msix = u32(0xFEE00000) + u32(0) + u32(0x4041) + u32(1)
msix += u32(0xFEE00000) + u32(0) + u32(0x4042) + u32(0)
body = u16(4) + u16(1) + u16(0x0406) + u8(16) + u8(0x80) + u8(0) + u32(0) + u32(0)
body += u8(0) + u8(0) + common + u16(16) + u16(1) + u8(1) + ring + vq + msix + u64(1)
body += rec(7, b"")
write("virtio_pci_rng", b"\x05" + rec(5, body))

# the same function with virtio-net (2 queues, 3 vectors) and virtio-blk
# on a 1 MiB disk (2048 sectors of 512 bytes)
def pci(device_id, queues, features, device_record):
    body = u16(device_id) + u16(queues) + u16(0x0406) + u8(16) + u8(0x80) + u8(0)
    body += u32(0) + u32(0) + u8(0) + u8(0)
    body += u32(0) + u32(1) + u64(features) + u16(0) + u16(0) + u8(15) + u8(0) + u8(0)
    for q in range(queues):
        base = 0x1000 + 0x3000 * q
        ring = u64(base) + u64(base + 0x1000) + u64(base + 0x2000)
        v = u8(1) + u16(16) + ring + u8(1) + u8(0) + u16(1) + u16(1) + u16(1) + u8(1) + u8(0)
        body += u16(16) + u16(q + 1) + u8(1) + ring + rec(6, v)
    for v in range(queues + 1):
        body += u32(0xFEE00000) + u32(0) + u32(0x4041 + v) + u32(0)
    return rec(5, body + u64(0) + device_record)


net = blob(bytes([2, 0, 0, 0, 0, 1])) + u8(0) + u16(1)
write("virtio_pci_net", b"\x06" + pci(1, 2, 1 << 32 | 1 << 29, rec(8, net)))
blk = u64(2048) + u32(512) + u8(0) + u8(0)
write("virtio_pci_blk", b"\x07" + pci(2, 1, 1 << 32 | 1 << 29 | 1 << 9, rec(9, blk)))

# KVM's records (kind 11, a vCPU; kind 12, the VM), as x86-64 KVM's
# structures lay them out: one CPUID entry, XCR0 = 1 (x87), one MSR, the
# ELCR masks and IOAPIC base KVM creates, PIT channel 0 counting 65536
cpuid = struct.pack("<7I", 0, 0, 0, 0xD, 0, 0, 0)
xcrs = struct.pack("<II", 1, 0) + struct.pack("<IIQ", 0, 0, 1) + bytes(392 - 24)
vcpu = u32(0) + u32(1) + blob(cpuid) + blob(bytes(144)) + blob(bytes(312)) + blob(bytes(4096))
vcpu += blob(xcrs) + blob(bytes(128)) + u32(1) + blob(struct.pack("<IQ", 0x174, 0))
vcpu += blob(bytes(1024)) + blob(bytes(4)) + blob(bytes(64))
write("vcpu", b"\x08" + rec(11, vcpu))
pic = lambda mask: bytes(15) + bytes([mask])
ioapic = struct.pack("<Q", 0xFEC00000) + bytes(216 - 8)
pit = struct.pack("<I", 0x10000) + bytes(112 - 4)
write("kvm_vm", b"\x09" + rec(12, blob(pic(0xF8)) + blob(pic(0xDE)) + blob(ioapic) + blob(pit) + u64(1 << 30)))
