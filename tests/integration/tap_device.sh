#!/usr/bin/env bash
# hearth's virtio-net data path over a real TAP, without a guest, so it
# also runs where /dev/kvm is not usable: tests/host/tap_dev puts hearth's device
# and I/O loop on a TAP in a namespace of this test's own (169.254.0.0/16
# only) and plays the driver.
# Receive: a ring of 63 buffers of 64 KiB given back one at a time;
# tests/host/gso_send writes bursts of TCP/IPv4 GSO frames, far more than the
# ring holds. Every frame must arrive once, whole, in order, as one GSO
# frame with its segment size: read in io_uring batches with the loop
# polling the queues (the default) and without (kicks), and read one by
# one.
# Transmit: UDP datagrams as fast as the ring takes them, written in
# io_uring batches and one by one; the TAP must count every frame and
# byte, the host's IP deliver every one to UDP, and UDP refuse none.
# Skips (77) when namespaces or TAP devices cannot be made here.
. "$(dirname "$0")/lib.sh"
tap_netns 169.254.88.1/16 # the address tests/host/tap_dev expects
"${NX[@]}" ip link set htap0 txqueuelen 2000

for run in "device 32" "device 0" "device-single 32"; do
	set -- $run
	expect_exit 0 "3 bursts of 300 GSO frames into the device ($1, poll budget $2 us)" -- \
		env TAP_DEV_POLL_US=$2 "${NX[@]}" "$TAP_DEV" htap0 rx "$1" "$GSO_SEND" 300 3
	expect_grep "$TMP/out" "^tap_dev rx $1: 900 frames \(0 bad\)" \
		"all 900 frames whole and in order ($1, poll budget $2 us)"
	sed 's/^/# /' "$TMP/out"
done

# the TAP's count of frames and bytes written into it; the host's IPv4
# datagrams delivered to a protocol, and its UDP datagrams refused for any
# reason but a full socket buffer (no port, bad length or checksum)
tap_stat() { "${NX[@]}" cat "/sys/class/net/htap0/statistics/$1"; }
ip_delivered() { "${NX[@]}" awk '/^Ip:/ && $2 ~ /^[0-9]+$/ { print $10 }' /proc/net/snmp; }
udp_refused() { "${NX[@]}" awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $3 + $4 - $6 }' /proc/net/snmp; }
N=20000
for mode in device device-single; do
	p0=$(tap_stat rx_packets) b0=$(tap_stat rx_bytes) i0=$(ip_delivered) r0=$(udp_refused)
	expect_exit 0 "$N datagrams from the device ($mode)" -- \
		"${NX[@]}" "$TAP_DEV" htap0 tx "$mode" $N 1472
	expect_grep "$TMP/out" "^tap_dev tx $mode: $N frames of 1514 bytes .*\(0 not written\)" \
		"every write took its whole frame ($mode)"
	dp=$(($(tap_stat rx_packets) - p0)) db=$(($(tap_stat rx_bytes) - b0))
	di=$(($(ip_delivered) - i0)) dr=$(($(udp_refused) - r0))
	if [ "$dp" = "$N" ] && [ "$db" = $((N * 1514)) ]; then
		ok "the TAP took $N frames of 1514 bytes ($mode)"
	else
		not_ok "the TAP took $dp frames, $db bytes ($mode)"
	fi
	# every one valid IPv4 for the host, and valid UDP to a bound port (the
	# socket is never read: its buffer holds the first hundred or so and
	# the rest are dropped there, which is not refusal)
	if [ "$di" = "$N" ] && [ "$dr" = 0 ]; then
		ok "the host's IP delivered all $N to UDP, which refused none ($mode)"
	else
		not_ok "the host's IP delivered $di of $N, UDP refused $dr ($mode)"
	fi
	sed 's/^/# /' "$TMP/out"
done

# A TAP still attached to another file: hearth waits up to 2 s for it (a
# hearth that just exited holds it that long at most: io_uring drops its
# references in a kernel worker), then says it is in use.
hold_tap() { # SECONDS: htap0 attached to a file of this test's for that long
	# the last holder's "held" gone first: the new holder's redirection
	# runs in its own process, maybe after the wait below has looked
	rm -f "$TMP/held"
	"${NX[@]}" python3 -c 'import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"htap0", 0x0002 | 0x1000 | 0x4000))
print("held", flush=True)
time.sleep(float(sys.argv[1]))' "$1" >"$TMP/held" &
	BG_PID=$!
	for _ in $(seq "$(scaled 100)"); do grep -q held "$TMP/held" && return 0; sleep 0.1; done
	not_ok "the TAP could not be held"
}
hold_tap 0.5
expect_exit 0 "a TAP let go of 0.5 s later is attached" -- "${NX[@]}" "$TAP_DEV" htap0 tx device 100 18
wait "$BG_PID" || true
hold_tap 60
expect_exit 1 "a TAP attached elsewhere for good is refused" -- "${NX[@]}" "$TAP_DEV" htap0 tx device 100 18
expect_grep "$TMP/err" "TAP 'htap0' is in use by another process" "the error says it is in use"
kill "$BG_PID" 2>/dev/null || true
wait "$BG_PID" 2>/dev/null || true
BG_PID=
finish
