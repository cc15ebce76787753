#!/bin/sh
# build.sh OUT: builds the null kernel, a hand-made bzImage (see setup.S and
# pm.S) that prints a marker and powers off, into OUT.
set -eu
dir=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -c -o "$tmp/pm.o" "$dir/pm.S"
ld -m elf_x86_64 -Ttext=0x100000 --no-warn-rwx-segments -o "$tmp/pm.elf" "$tmp/pm.o"
objcopy -O binary "$tmp/pm.elf" "$tmp/pm.bin"
size=$(wc -c <"$tmp/pm.bin")
gcc -m32 -c -DSYSSIZE=$(( (size + 15) / 16 )) -o "$tmp/setup.o" "$dir/setup.S"
ld -m elf_i386 -Ttext=0 --no-warn-rwx-segments -o "$tmp/setup.elf" "$tmp/setup.o"
objcopy -O binary "$tmp/setup.elf" "$tmp/setup.bin"
[ "$(wc -c <"$tmp/setup.bin")" = 1024 ] || { echo "null kernel: setup part is not 2 sectors" >&2; exit 1; }
cat "$tmp/setup.bin" "$tmp/pm.bin" >"$1"
