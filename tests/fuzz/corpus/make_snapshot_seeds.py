#!/usr/bin/env python3
# Writes the seed inputs of fuzz_snapshot: state files as snapshot_write_state
# writes them for hearth "0.1.0" (docs/snapshot.md "The files" has the
# header's layout). Run from this directory; the outputs are checked in
# next to it.
import os
import struct


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def state(payload, memory=256 << 20, cpus=2, disks=1, nics=1, version=b"0.1.0"):
    h = b"HEARTHSS" + struct.pack("<II", 1, 88) + version.ljust(32, b"\0")
    h += struct.pack("<QIIII", memory, cpus, disks, nics, 0)
    h += struct.pack("<QI", len(payload), crc32c(payload))
    h += struct.pack("<I", crc32c(h))
    assert len(h) == 88
    return h + payload


def write(name, data):
    os.makedirs("snapshot", exist_ok=True)
    with open(os.path.join("snapshot", name), "wb") as f:
        f.write(data)


write("empty", state(b""))
write("records", state(b"HEST\x01\x00\x01\x00\x02\x00\x00\x00\x01\x03", cpus=1, disks=0, nics=0))
write("big_machine", state(bytes(range(256)) * 4, memory=64 << 30, cpus=255, disks=8, nics=4))
