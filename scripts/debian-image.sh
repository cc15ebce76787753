#!/usr/bin/env bash
# debian-image.sh [OUT.img]: builds a Debian 12 disk image that hearth boots
# with `hearth run --disk path=OUT.img` (no --kernel): a GPT disk with one
# ext4 root partition holding systemd, udev, iproute2, Debian's stock
# linux-image-amd64 and the initrd initramfs-tools makes inside the image,
# its root found by root=UUID= (docs/debian.md). Built with mmdebstrap from
# the host's own apt sources (never a downloaded image), as root. Without
# OUT the image goes into the cache, keyed by this script's content, and
# its path is the last line printed; a cache hit is instant.
#
# Options (environment): HEARTH_IMAGE_SIZE (default 2G), HEARTH_IMAGE_PASSWORD
# (root's password, default "hearth": a test image, never a server's).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${HEARTH_IMAGE_SIZE:-2G}
password=${HEARTH_IMAGE_PASSWORD:-hearth}
cache=${HEARTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth}/debian
# The host's apt sources name the suite: they must be Debian 12's.
. /etc/os-release
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
	echo "debian-image.sh: builds from the host's apt sources, which must be Debian 12 (bookworm)'s; this host is ${PRETTY_NAME:-unknown}" >&2
	exit 1
fi
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -s "$f" ] && grep -q '^[^#]' "$f" && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "debian-image.sh: the host has no apt sources" >&2; exit 1; }
key=$( (cat "$0" scripts/gpt.py "${sources[@]}"; echo "$size $password") | sha256sum | cut -c1-12)
out=${1:-$cache/bookworm-$key.img}
if [ -z "${1:-}" ] && [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "debian-image.sh: needs root (mmdebstrap and mke2fs -d keep owners)" >&2; exit 1; }
command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM # the EXIT trap then removes the half-built tree
uuid=$(cat /proc/sys/kernel/random/uuid)
start=$SECONDS
echo "debian-image: building Debian 12 with systemd and linux-image-amd64" \
	"(mmdebstrap: ~250 MB of packages; ~4-10 min on 2 cores, more on a slow network)" >&2
# The initramfs: only the modules a hearth guest needs for its root
# (MODULES=list), so that it is small and quick to unpack, made again
# after the configuration is in place.
mmdebstrap --variant=minbase --format=directory --components=main \
	--include=systemd-sysv,udev,dbus,iproute2,kmod,e2fsprogs,initramfs-tools,linux-image-amd64,login,passwd,procps \
	--customize-hook='echo hearth-debian >"$1/etc/hostname"' \
	--customize-hook="echo 'UUID=$uuid / ext4 errors=remount-ro 0 1' >\"\$1/etc/fstab\"" \
	--customize-hook="echo 'root:$password' | chroot \"\$1\" chpasswd" \
	--customize-hook='printf "MODULES=list\nCOMPRESS=gzip\n" >"$1/etc/initramfs-tools/conf.d/hearth"' \
	--customize-hook='printf "virtio_pci\nvirtio_blk\nvirtio_net\next4\n" >>"$1/etc/initramfs-tools/modules"' \
	--customize-hook='chroot "$1" update-initramfs -u -k all >/dev/null' \
	--customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*_Packages' \
	bookworm "$work/root" "${sources[@]}" 2>&1 | sed -u 's/^/debian-image: /' >&2
echo "debian-image: packages installed in $((SECONDS - start)) s; writing the disk" >&2
truncate -s "$size" "$work/disk.img"
python3 scripts/gpt.py "$work/disk.img"
bytes=$(stat -c %s "$work/disk.img")
mke2fs -q -t ext4 -U "$uuid" -L root -E offset=1048576 -d "$work/root" "$work/disk.img" \
	"$(((bytes - 2 * 1048576) / 1024))k"
mv "$work/disk.img" "$out"
echo "debian-image: done in $((SECONDS - start)) s: $out ($size, root UUID $uuid)" >&2
echo "$out"
