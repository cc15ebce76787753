#!/usr/bin/env python3
# Writes the seed inputs of fuzz_bzimage and fuzz_pvh (tests/fuzz/fuzz_boot.h
# says how an input is laid out): a minimal bzImage and 64- and 32-bit ELF
# kernels with a PVH note, each with and without a command line and initrd;
# of fuzz_iscsi: a target's answers at login and sense data; and of
# fuzz_part: disks with an MBR and with a GPT.
# Run from this directory; the outputs are checked in next to it.
import os
import struct
import zlib


def prefix(flags, cmdline, initrd):
    return struct.pack("<BHH", flags, len(cmdline), len(initrd)) + cmdline + initrd


def bzimage(setup_sects=1, pm_len=512, init_size=64 * 1024):
    img = bytearray((setup_sects + 1) * 512 + pm_len)
    img[0x1F1] = setup_sects
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = b"\xeb\x66"  # the header ends at 0x268
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020F)
    img[0x211] = 0x01  # LOADED_HIGH
    struct.pack_into("<I", img, 0x22C, 0x37FFFFFF)  # initrd_addr_max
    img[0x236] = 0x01  # XLF_KERNEL_64
    struct.pack_into("<I", img, 0x238, 2048)  # cmdline_size
    struct.pack_into("<I", img, 0x260, init_size)
    for i in range(pm_len):
        img[(setup_sects + 1) * 512 + i] = (i * 7 + 1) & 0xFF
    return bytes(img)


def note(entry, size):
    return struct.pack("<III", 4, size, 18) + b"Xen\0" + entry.to_bytes(size, "little")


def elf64(entry=0x100010, paddr=0x100000, filesz=64, memsz=8192):
    n = note(entry, 4)
    eh_size, ph_size = 64, 56
    ph_off = eh_size
    note_off = ph_off + 2 * ph_size
    data_off = note_off + len(n)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ph_off, 0, 0, eh_size,
                             ph_size, 2, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 7, data_off, paddr, paddr, filesz, memsz, 0x1000)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(n), len(n), 4)
    return eh + load + pnote + n + bytes((i * 5) & 0xFF for i in range(filesz))


def elf32(entry=0x200000, paddr=0x200000, filesz=16, memsz=16):
    n = note(entry, 8)
    eh_size, ph_size = 52, 32
    ph_off = eh_size
    note_off = ph_off + 2 * ph_size
    data_off = note_off + len(n)
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, ph_off, 0, 0, eh_size, ph_size,
                             2, 0, 0, 0)
    load = struct.pack("<IIIIIIII", 1, data_off, paddr, paddr, filesz, memsz, 7, 0x1000)
    pnote = struct.pack("<IIIIIIII", 4, note_off, 0, 0, len(n), len(n), 4, 4)
    # an ELF header is 64 bytes long to the loader's first check
    return eh + load + pnote + n + bytes(range(filesz)) + bytes(16)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


cmd = b"console=ttyS0 panic=-1"
rd = bytes(range(64))
write("bzimage", "plain", prefix(0, b"", b"") + bzimage())
write("bzimage", "cmdline_initrd", prefix(1, cmd, rd) + bzimage())
write("bzimage", "big_initrd", prefix(3, cmd, b"\x00" * 2) + bzimage(setup_sects=0))
write("bzimage", "long_cmdline", prefix(4, cmd * 20, b"") + bzimage(init_size=0))
write("bzimage", "small_ram", prefix(9, cmd, rd) + bzimage())
write("pvh", "elf64", prefix(0, b"", b"") + elf64())
write("pvh", "elf64_initrd", prefix(1, cmd, rd) + elf64())
write("pvh", "elf32", prefix(1, cmd, rd) + elf32())
write("pvh", "small_ram", prefix(9, cmd, rd) + elf64(memsz=64))
write("pvh", "long_cmdline", prefix(6, cmd * 200, b"\x10\x00") + elf32())


# fuzz_iscsi: kind, status, block size exponent, then the data-in
def iscsi(kind, data, status=0, bs=0):
    return bytes([kind, status, bs]) + data


inq = bytearray(66)
inq[2], inq[3], inq[4] = 5, 2, 61
inq[8:16] = b"IET     "
inq[16:32] = b"VIRTUAL-DISK    "
inq[32:36] = b"0001"
write("iscsi", "inquiry_disk", iscsi(0, bytes(inq)))
write("iscsi", "inquiry_short", iscsi(0, bytes(inq[:5])))
write("iscsi", "inquiry_cdrom", iscsi(0, b"\x05" + bytes(inq[1:36])))
rc = struct.pack(">QI", (64 << 20) // 512 - 1, 512) + bytes([0, 0, 0xC0, 0]) + bytes(16)
write("iscsi", "capacity_64m", iscsi(1, rc))
write("iscsi", "capacity_4k", iscsi(1, struct.pack(">QI", 16383, 4096) + bytes(20)))
write("iscsi", "capacity_short", iscsi(1, rc[:8]))
write("iscsi", "capacity_failed", iscsi(1, rc, status=0x80))
write("iscsi", "mode_sense_wp", iscsi(2, bytes([3, 0, 0x80, 0])))
write("iscsi", "mode_sense_rw", iscsi(2, bytes([11, 0, 0, 8]) + bytes(8)))
lbp = bytes([0, 0xB2, 0, 4, 0, 0x84, 2, 0])
write("iscsi", "lbp_unmap", iscsi(3, lbp))
bl = bytearray(64)
bl[1], bl[3] = 0xB0, 0x3C
struct.pack_into(">I", bl, 20, 0x100000)  # max_unmap
struct.pack_into(">I", bl, 24, 1)
struct.pack_into(">Q", bl, 36, 0x10000)  # max_ws_len
write("iscsi", "block_limits", iscsi(4, bytes(bl), bs=3))
write("iscsi", "block_limits_short", iscsi(4, bytes(bl[:22])))
# fixed-format sense: UNIT ATTENTION 29/00; descriptor format: DATA PROTECT 27/07
fixed = bytes([0x70, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0, 0, 0, 0, 0])
write("iscsi", "sense_unit_attention", iscsi(5, fixed, status=2))
write("iscsi", "sense_descriptor", iscsi(5, bytes([0x72, 7, 0x27, 7, 0, 0, 0, 0]), status=2))
write("iscsi", "status_busy", iscsi(5, b"", status=8))


# fuzz_part: the disk's size in sectors, then its first bytes
def mbr(entries):
    m = bytearray(512)
    for i, (t, start, count) in enumerate(entries):
        m[446 + 16 * i + 4] = t
        struct.pack_into("<II", m, 446 + 16 * i + 8, start, count)
    m[510:512] = b"\x55\xaa"
    return bytes(m)


def gpt(sectors, parts, n=4):
    array = b"".join(b"\xaf" * 16 + bytes(16) + struct.pack("<QQQ", a, b, 0) + bytes(72)
                     for a, b in parts)
    array += bytes(128 * (n - len(parts)))
    h = struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0, 1, sectors - 1, 34,
                    sectors - 34, bytes(16), 2, n, 128, zlib.crc32(array))
    h = h[:16] + struct.pack("<I", zlib.crc32(h)) + h[20:]
    return mbr([(0xEE, 1, sectors - 1)]) + h + bytes(512 - len(h)) + array


write("part", "mbr_two", struct.pack("<I", 8192) + mbr([(0x83, 2048, 2048), (0x07, 4096, 4096)]))
write("part", "gpt_two", struct.pack("<I", 8192) + gpt(8192, [(2048, 4095), (4096, 8158)]))
