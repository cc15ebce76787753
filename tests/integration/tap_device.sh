#!/usr/bin/env bash
# hearth's virtio-net receive path over a real TAP, without a guest, so it
# also runs where /dev/kvm is not usable: bench/tap_rx puts hearth's device
# and I/O loop on a TAP in a namespace of this test's own (169.254.0.0/16
# only) and plays the driver, a ring of 63 buffers of 64 KiB given back one
# at a time; bench/gso_send writes bursts of TCP/IPv4 GSO frames, far more
# than the ring holds. Every frame must arrive once, whole, in order, as
# one GSO frame with its segment size: with the loop polling the queues
# (the default) and without (kicks). Skips (77) when namespaces or TAP
# devices cannot be made here.
. "$(dirname "$0")/lib.sh"
tap_netns 169.254.78.1/16
"${NX[@]}" ip link set htap0 txqueuelen 2000

for poll in 32 0; do
	expect_exit 0 "3 bursts of 300 GSO frames into the device (poll budget $poll us)" -- \
		env TAP_RX_POLL_US=$poll "${NX[@]}" "$TAP_RX" htap0 "$GSO_SEND" device 300 3
	expect_grep "$TMP/out" "^tap_rx device: 900 frames \(0 bad\)" \
		"all 900 frames whole and in order (poll budget $poll us)"
	sed 's/^/# /' "$TMP/out"
done
finish
