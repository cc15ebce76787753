#!/bin/sh
# build.sh NAME OUT: assembles mini.S with -DTEST_NAME into the ELF OUT.
set -eu
dir=$(dirname "$0")
obj="$2.o"
gcc -m32 -c -DTEST_"$1" -o "$obj" "$dir/mini.S"
ld -m elf_i386 --no-warn-rwx-segments -T "$dir/mini.ld" -o "$2" "$obj"
rm -f "$obj"
