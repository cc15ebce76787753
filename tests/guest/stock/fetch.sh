#!/usr/bin/env bash
# fetch.sh: downloads Debian's stock cloud kernel package (the one the
# linux-image-cloud-amd64 metapackage currently points at) into the cache and
# prints the path of its vmlinuz as the last line. Cache hits are instant.
set -euo pipefail
cache=${HEARTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hearth}/stock
pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
name=$(pkg)
if [ -z "$name" ]; then
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq >&2
	name=$(pkg)
fi
[ -n "$name" ] || { echo "fetch.sh: no linux-image-cloud-amd64 in the package index" >&2; exit 1; }
dir=$cache/$name
if [ ! -f "$dir/vmlinuz" ]; then
	echo "hearth: fetching Debian's $name" >&2
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$name" >/dev/null 2>&1) ||
		{ echo "fetch.sh: apt-get download $name failed" >&2; exit 1; }
	dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" ./boot/
	mkdir -p "$dir"
	cp "$tmp"/boot/vmlinuz-* "$dir/vmlinuz.tmp"
	mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
fi
echo "$dir/vmlinuz"
