#!/usr/bin/env python3
"""gpt.py IMG: writes a GPT onto IMG (its size a multiple of 1 MiB): a
protective MBR, the primary and backup headers and entry arrays (128
entries), and one Linux file system partition from 1 MiB to the last
usable sector, so that `mke2fs -E offset=1048576` puts a file system
there. The layout hearth's own images and tests use (docs/boot.md)."""
import struct, sys, uuid, zlib
path = sys.argv[1]
with open(path, "r+b") as f:
    f.seek(0, 2)
    sectors = f.tell() // 512
    first_usable, last_usable = 34, sectors - 34
    entry = (uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4").bytes_le + uuid.uuid4().bytes_le +
             struct.pack("<QQQ", 2048, last_usable, 0) + "root".encode("utf-16-le").ljust(72, b"\0"))
    array = entry + bytes(128 * 127)
    disk_guid = uuid.uuid4().bytes_le

    def header(me, alt, entries):
        h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, me, alt,
                        first_usable, last_usable, disk_guid, entries, 128, 128, zlib.crc32(array))
        return h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]

    mbr = bytearray(512)
    mbr[446:462] = bytes([0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff]) + struct.pack("<II", 1, min(sectors - 1, 0xffffffff))
    mbr[510:512] = b"\x55\xaa"
    for off, data in ((0, bytes(mbr)), (512, header(1, sectors - 1, 2)), (1024, array),
                      ((sectors - 33) * 512, array), ((sectors - 1) * 512, header(sectors - 1, 1, sectors - 33))):
        f.seek(off)
        f.write(data)
