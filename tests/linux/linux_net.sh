#!/usr/bin/env bash
# Linux's own virtio-net driver on hearth: the test guest's /init configures
# eth0 by hand (169.254.77.2/16), pings the host (raw ICMP socket), and
# moves 2 MiB each way over TCP with a
# host-side server (net_server.py) in a network namespace this test creates,
# checking every byte and an FNV-1a-64 of the stream on both ends. Offloads
# (checksum, TSO) are negotiated by Linux and mapped onto the TAP. Skips (77)
# without network namespaces or TAP devices.
. "$(dirname "$0")/../integration/lib.sh"
require_kvm
HERE=$(cd "$(dirname "$0")" && pwd)
tap_netns 169.254.77.1/16
dir=$(bash "$HERE/../guest/linux/build.sh" | tail -1)

"${NX[@]}" python3 "$HERE/net_server.py" 169.254.77.1 7780 "$TMP/server.log" &
BG_PID=$!
for _ in $(seq "$(scaled 50)"); do grep -q listening "$TMP/server.log" 2>/dev/null && break; sleep 0.1; done

expect_exit 0 "Linux guest: TCP both ways over virtio-net" -- \
	"${NX[@]}" "$HEARTH" run --kernel "$dir/vmlinux" --initrd "$dir/initramfs.cpio" --cpus 2 \
	--memory 256M --net tap=htap0,mac=52:54:00:12:34:56 --log-level info \
	--cmdline "console=ttyS0 reboot=k panic=-1 noxsave hearth.checks=net hearth.ip=169.254.77.2 hearth.peer=169.254.77.1 hearth.port=7780 hearth.netbytes=2097152" \
	--timeout 90s --console "file:$TMP/guest.log"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-eth0 169.254.77.2 mac=52:54:00:12:34:56 .*result=pass" \
	"eth0 has the MAC given and is configured"
# the features Linux negotiated (sysfs: one character per bit): CSUM,
# GUEST_CSUM, GUEST_TSO4, HOST_TSO4, MRG_RXBUF, STATUS
f=$(sed -n 's/.*net-eth0 .* features=\([01]*\) .*/\1/p' "$TMP/guest.log")
if [ "${f:0:1}${f:1:1}${f:7:1}${f:11:1}${f:15:1}${f:16:1}" = 111111 ]; then
	ok "Linux negotiated the checksum and TSO offloads and mergeable buffers"
else
	not_ok "negotiated features: '$f'"
fi
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-ping replies=3 result=pass" \
	"the guest pings the host: 3 echo replies with its payload"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-tcp-to-host bytes=2097152 .*result=pass" \
	"2 MiB guest -> host, the server's FNV matches the guest's"
expect_grep "$TMP/guest.log" "^HEARTH-CHECK: net-tcp-from-host bytes=2097152 .*result=pass" \
	"2 MiB host -> guest, every byte checked"
# The server logs its GET line after its last send returns, which can be
# after the guest has read everything and hearth has exited: wait for the
# server to finish with the connection (bounded) before reading its log.
for _ in $(seq "$(scaled 100)"); do grep -q "GET .* sent" "$TMP/server.log" 2>/dev/null && break; sleep 0.1; done
expect_grep "$TMP/server.log" "PUT 2097152 bytes intact" "the server got the guest's bytes intact"
g=$(sed -n 's/.*net-tcp-from-host .* fnv=\([0-9a-f]*\) .*/\1/p' "$TMP/guest.log")
expect_grep "$TMP/server.log" "GET 2097152 bytes fnv=${g:-none}" "the guest's FNV of what it received is the server's"
expect_grep "$TMP/err" "virtio-net htap0: rx [0-9]+ frames .*bad tx 0, tx errors 0" "no transmit chain refused"
grep -h "HEARTH-CHECK: net" "$TMP/guest.log" | sed 's/^/# /'
sed 's/^/# /' "$TMP/server.log"
grep "virtio-net htap0" "$TMP/err" | sed 's/^/# /'
finish
