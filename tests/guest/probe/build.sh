#!/bin/sh
# build.sh OUT: builds the probe guest, a freestanding PVH ELF, into OUT.
# Built with gcc/ld directly: it must not get hearth's flags or sanitizers.
set -eu
dir=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-O2 -std=c11 -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie -mcmodel=small
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables
	-fno-builtin --param=min-pagesize=0 -nostdinc -isystem $(gcc -print-file-name=include)"
for f in probe drivers virtio net flood; do
	gcc $cflags -c -o "$tmp/$f.o" "$dir/$f.c"
done
gcc -c -fno-pic -o "$tmp/entry.o" "$dir/entry.S"
ld -m elf_x86_64 -nostdlib -static --no-warn-rwx-segments -z noexecstack -T "$dir/probe.ld" \
	-o "$1" "$tmp/entry.o" "$tmp/probe.o" "$tmp/drivers.o" "$tmp/virtio.o" "$tmp/net.o" "$tmp/flood.o"
