#!/usr/bin/env bash
# build.sh [--pvm|--no-pvm] [--out DIR]: builds hearth's Linux test guest
# from Debian's linux-source-6.1 package: a minimal kernel (tinyconfig +
# config.fragment) as an uncompressed vmlinux (PVH entry) and a bzImage, and
# a tiny initramfs whose /init is init/init.c. On a PVM host (auto-detected,
# or --pvm) the patches in patches/pvm/ are applied; otherwise the kernel is
# unpatched.
#
# Output: a cache directory keyed by everything that goes into the build
# (source package version, config, patches, init, this script), printed as
# the last line of stdout. A second run with the same inputs prints it at
# once. The cache lives in --out DIR, else $HEARTH_CACHE, else
# ${XDG_CACHE_HOME:-~/.cache}/hearth.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: build.sh [--pvm|--no-pvm] [--out DIR]" >&2; exit "$1"; }
pvm=auto
cache=${HEARTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth}
while [ $# -gt 0 ]; do
	case $1 in
	--pvm) pvm=yes ;;
	--no-pvm) pvm=no ;;
	--out) [ $# -ge 2 ] || usage 2; cache=$2; shift ;;
	--out=*) cache=${1#--out=} ;;
	-h | --help) usage 0 ;;
	*) usage 2 ;;
	esac
	shift
done
[ $pvm = auto ] && { [ -e /sys/module/kvm_pvm ] && pvm=yes || pvm=no; }

say() { echo "hearth: $*" >&2; }

# What the build needs, from Debian's packages only.
need=(linux-source-6.1 gcc make bc bison flex libelf-dev libssl-dev xz-utils lz4 cpio e2fsprogs)
missing=()
for p in "${need[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	say "installing ${missing[*]}"
	apt_install() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
	apt_install || { $SUDO apt-get update -qq >&2 && apt_install; } || { say "could not install ${missing[*]}"; exit 1; }
fi
tarball=/usr/src/linux-source-6.1.tar.xz
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)

patches=()
[ $pvm = yes ] && patches=("$here"/patches/pvm/*.patch)
# Two cache levels: the kernel (source, config, patches, recipe) and the
# guest directory (that kernel plus the initramfs from init/), so a change
# to /init takes seconds, not a kernel build.
# Bump KERNEL_RECIPE when the kernel build steps below change (editing the
# rest of this script must not cost a kernel build).
KERNEL_RECIPE=1
kkey=$( { echo "$srcver pvm=$pvm recipe=$KERNEL_RECIPE"; cat "$here/config.fragment";
	  if [ ${#patches[@]} -gt 0 ]; then cat "${patches[@]}"; fi; } | sha256sum | cut -c1-16)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd) # absolute: the guest directory links to the kernel's files
kdir=$cache/linux-$kkey
# Bump GUEST_RECIPE when the initramfs or root image steps below change.
GUEST_RECIPE=1
ikey=$( { echo "recipe=$GUEST_RECIPE"; cat "$kdir/.config" 2>/dev/null || true; cat "$here/init/init.c"; } |
	sha256sum | cut -c1-16)
out=$cache/guest-$kkey-$ikey
if [ -f "$out/initramfs.cpio" ] && [ -f "$kdir/vmlinux" ]; then
	echo "$out"
	exit 0
fi

# Work in a temporary directory next to the results and rename finished
# results into place, so an interrupted build leaves no partial cache entry.
# Remove what a killed build (SIGKILL: no trap) left a day or more ago.
find "$cache" -maxdepth 1 -name '.build-*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
work=$(mktemp -d "$cache/.build-$kkey.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
log=$work/build.log
fail() {
	say "Linux guest build failed: $1 (last lines of the log follow)"
	tail -30 "$log" >&2
	exit 1
}

if [ ! -f "$kdir/vmlinux" ]; then
	t0=$(date +%s)
	say "building the Linux test guest kernel (linux-source $srcver, PVM patches: $pvm); about 5 minutes on 2 cores"
	say "[1/4] unpacking the kernel source"
	tar -xf "$tarball" -C "$work" || fail "unpacking $tarball"
	src=$work/linux-source-6.1
	for p in "${patches[@]}"; do
		say "      applying $(basename "$p")"
		patch -s -p1 -d "$src" <"$p" >>"$log" 2>&1 || fail "patch $(basename "$p") does not apply"
	done

	say "[2/4] configuring (tinyconfig + config.fragment)"
	obj=$work/obj
	mkdir -p "$obj"
	{ make -C "$src" O="$obj" tinyconfig &&
	  "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$here/config.fragment" &&
	  make -C "$src" O="$obj" olddefconfig; } >>"$log" 2>&1 || fail "configuration"
	# Every line of the fragment must have survived olddefconfig.
	bad=0
	while read -r line; do
		case $line in
		CONFIG_*=*) grep -qx "$line" "$obj/.config" || { say "config: wanted $line, got: $(grep "^${line%%=*}=\|^# ${line%%=*} " "$obj/.config" || echo unset)"; bad=1; } ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
			! grep -q "^$opt=" "$obj/.config" || { say "config: wanted $opt off, got $(grep "^$opt=" "$obj/.config")"; bad=1; } ;;
		esac
	done <"$here/config.fragment"
	[ $bad = 0 ] || fail "config.fragment does not hold"

	say "[3/4] compiling the kernel (make -j$(nproc))"
	make -C "$src" O="$obj" -j"$(nproc)" vmlinux bzImage >>"$log" 2>&1 || fail "kernel build"

	say "[4/4] storing the kernel"
	mkdir -p "$work/kernel/nolibc"
	cp "$obj/vmlinux" "$obj/arch/x86/boot/bzImage" "$obj/.config" "$obj/usr/gen_init_cpio" "$work/kernel/"
	cp "$src"/tools/include/nolibc/*.h "$work/kernel/nolibc/"
	strip --strip-debug "$work/kernel/vmlinux" 2>/dev/null || true
	cp "$log" "$work/kernel/build.log"
	rm -rf "$kdir"
	mv "$work/kernel" "$kdir"
	rm -rf "$src" "$obj"
	say "kernel built in $(( $(date +%s) - t0 )) s"
	ikey=$( { echo "recipe=$GUEST_RECIPE"; cat "$kdir/.config" "$here/init/init.c"; } | sha256sum | cut -c1-16)
	out=$cache/guest-$kkey-$ikey
fi

say "building /init and the initramfs"
gcc -Os -static -nostdlib -ffreestanding -fno-asynchronous-unwind-tables -fno-stack-protector \
	-fno-ident -Wall -Wextra -Werror -include "$kdir/nolibc/nolibc.h" \
	-o "$work/init" "$here/init/init.c" -lgcc >>"$log" 2>&1 || fail "/init"
strip "$work/init"
cat >"$work/initramfs.list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0555 0 0
dir /sys 0555 0 0
file /init $work/init 0755 0 0
LIST
mkdir -p "$work/guest"
"$kdir/gen_init_cpio" "$work/initramfs.list" >"$work/guest/initramfs.cpio" 2>>"$log" || fail "initramfs"
# The same /init on an ext4 root disk, for root=/dev/vda boots (copy it
# before use: the guest writes to it).
mkdir -p "$work/root/dev" "$work/root/proc" "$work/root/sys"
cp "$work/init" "$work/root/init"
mke2fs -q -t ext4 -L hearth-root -d "$work/root" "$work/guest/root.ext4" 32M >>"$log" 2>&1 || fail "root.ext4"
ln -s "$kdir/vmlinux" "$work/guest/vmlinux"
ln -s "$kdir/bzImage" "$work/guest/bzImage"
rm -rf "$out"
mv "$work/guest" "$out"
echo "$out"
