#!/usr/bin/env bash
# Installs what hearth needs to build and test on Debian 12 (as root, or via
# sudo). Idempotent: does nothing when everything is already there.
set -euo pipefail

PKGS=(
	gcc make meson ninja-build pkg-config
	liburing-dev libaio-dev libseccomp-dev libjson-c-dev libhttp-parser-dev libcmocka-dev libiscsi-dev libext2fs-dev tgt
	binutils util-linux iproute2 python3 clang-format e2fsprogs curl mmdebstrap
	clang-14 libclang-rt-14-dev
	linux-image-amd64 busybox-static cpio kmod
)
# tgt: the iSCSI target (tgtd) tests/integration/iscsi.sh runs privately.
# mmdebstrap: builds the Debian 12 image the linux suite boots
# (scripts/debian-image.sh). linux-image-amd64, busybox-static, cpio, kmod:
# Debian's stock kernel and a busybox initramfs for the linux suite's
# stock-kernel tests, on a KVM host as in the box (without them they skip).
# Peers and tools for bench/ only.
BENCH_PKGS=(qemu-system-x86 qemu-block-extra hyperfine fio)

# The box (scripts/box.sh): a KVM host under QEMU's emulation, for machines
# without /dev/kvm: QEMU, Debian's own kernel and a busybox initramfs.
BOX_PKGS=(qemu-system-x86 xz-utils)

want=("${PKGS[@]}")
for a in "$@"; do
	case $a in
	--bench) want+=("${BENCH_PKGS[@]}") ;;
	--box) want+=("${BOX_PKGS[@]}") ;;
	*) echo "deps.sh: unknown option $a (--bench, --box)" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "hearth: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Installing tgt enables and starts Debian's tgt service, a target listening
# on every address at port 3260. The tests start their own tgtd on loopback;
# a developer machine should not gain a network service, so switch it off
# again when this script installed it (and systemd runs).
if [[ " ${missing[*]} " == *" tgt "* ]] && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now tgt.service >/dev/null 2>&1 || true
fi
