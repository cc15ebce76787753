#!/usr/bin/env bash
# virtio-net over TAP with the probe guest's own driver
# (tests/guest/probe/net.c), inside a network namespace this test creates:
# a TAP with a link-local address (169.254.0.0/16 only), a UDP responder
# (net_responder.py), hearth attached to the TAP. ARP both ways, ICMP echo
# both ways, UDP echo (contents and order), a receive burst larger than the
# ring, transmit rate; TCP segmentation offload both ways (GSO frames the
# host checks on a packet socket and its TAP counters; GSO frames
# tests/host/gso_send writes, checked in the guest, also across merged
# buffers); then a hostile driver. Skips (77) when namespaces or TAP
# devices cannot be made here.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH
HERE=$(cd "$(dirname "$0")" && pwd)
HOST_IP=169.254.77.1
GUEST_IP=169.254.77.2
tap_netns "$HOST_IP/16"

"${NX[@]}" python3 "$HERE/net_responder.py" "$HOST_IP" 7777 "$GUEST_IP" "$TMP/resp.log" \
	htap0 "$GSO_SEND" &
BG_PID=$!
for _ in $(seq "$(scaled 150)"); do grep -q listening "$TMP/resp.log" 2>/dev/null && break; sleep 0.1; done

ARGS="probe.ip=$GUEST_IP probe.peer=$HOST_IP probe.port=7777"
expect_exit 0 "the probe guest talks to the host over virtio-net" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --log-level info \
	--net tap=htap0,mac=52:54:00:12:34:56 --cmdline "probe.tests=net $ARGS probe.frames=20000" \
	--timeout 120s
expect_grep "$TMP/out" "^PROBE: test=net-init mac=52:54:00:12:34:56 link=1 mrg=1 .*result=pass" \
	"the guest sees the MAC it was given, link up"
expect_grep "$TMP/out" "^PROBE: test=net-arp .*peer-mac=.*result=pass" "ARP: the guest resolves the host"
expect_grep "$TMP/out" "^PROBE: test=net-ping count=20 result=pass" "ICMP echo guest -> host, 20 sizes"
expect_grep "$TMP/out" "^PROBE: test=net-udp-echo sent=300 got=300 bad=0 result=pass" \
	"UDP echo: 300 datagrams back whole and in order"
expect_grep "$TMP/out" "^PROBE: test=net-rx-burst frames=600 size=18 out-of-order=0 .*result=pass" \
	"a 600-frame burst into a 63-buffer ring: nothing lost or reordered"
expect_grep "$TMP/out" "^PROBE: test=net-tx-rate .*result=pass" "transmit rate run"
expect_grep "$TMP/out" "^PROBE: test=net-pinged-by-host replies=3 result=pass" \
	"ICMP echo host -> guest (the host ARPs the guest)"
expect_grep "$TMP/out" "^PROBE: test=net-stats .*result=pass" "no malformed frames reached the guest"
expect_grep "$TMP/err" "nic 0: TAP htap0, MAC 52:54:00:12:34:56" "the log names the TAP and MAC"
expect_grep "$TMP/err" "virtio-net htap0: rx [0-9]+ frames .*bad tx 0, tx errors 0" "counters at exit"
sed 's/^/# /' "$TMP/resp.log"
grep -h "net-tx-rate\|net-rx-burst" "$TMP/out" | sed 's/^/# /'

# TSO, guest -> host: GSO frames to a MAC that is not the TAP's (the host
# drops them unanswered). A packet socket with PACKET_VNET_HDR sees each as
# the guest built it (one GSO frame, its header and every payload byte);
# the TAP's counters must hold exactly what the guest says it sent.
N=40
"${NX[@]}" python3 - "$N" "$TMP/sniff.log" <<'PY' &
import socket, struct, sys
n, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(263, 15, 1)  # SOL_PACKET, PACKET_VNET_HDR
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
s.bind(("htap0", 0))
s.settimeout(60)
open(log, "w").write("ready\n")
payload = bytes((j * 7 + 1) & 0xFF for j in range(64000))
good = bad = 0
try:
    while good + bad < n:
        d = s.recv(70000)
        flags, gso, hlen, gsz, cstart, coff = struct.unpack("<BBHHHH", d[:10])
        f = d[10:]
        if f[:6] != b"\x02\0\0\0\0\x01":
            continue
        tot, proto = struct.unpack("!H", f[16:18])[0], f[23]
        seq = struct.unpack("!I", f[38:42])[0]
        pseudo = sum(struct.unpack("!HHHH", f[26:34])) + 6 + 20 + 64000
        while pseudo >> 16:
            pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
        ok = (flags == 1 and gso == 1 and gsz == 1448 and cstart == 34 and coff == 16 and
              len(f) == 64054 and tot == 64040 and proto == 6 and
              seq == (0x10000000 + good * 64000) & 0xFFFFFFFF and
              struct.unpack("!H", f[50:52])[0] == pseudo and f[54:] == payload)
        if ok:
            good += 1
        else:
            bad += 1
            print("bad frame: flags %d gso %d size %d csum %d+%d len %d seq %x" %
                  (flags, gso, gsz, cstart, coff, len(f), seq), file=open(log, "a"))
except socket.timeout:
    pass
print("gso frames: good=%d bad=%d" % (good, bad), file=open(log, "a"))
PY
sniff=$!
for _ in $(seq "$(scaled 150)"); do grep -q ready "$TMP/sniff.log" 2>/dev/null && break; sleep 0.1; done
rx0=$("${NX[@]}" cat /sys/class/net/htap0/statistics/rx_packets)
rb0=$("${NX[@]}" cat /sys/class/net/htap0/statistics/rx_bytes)
expect_exit 0 "TSO guest -> host: $N GSO frames" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --log-level info --net tap=htap0 \
	--cmdline "probe.tests=net-tso-tx $ARGS probe.tsoframes=$N" --timeout 120s
wait $sniff || true
expect_grep "$TMP/out" "^PROBE: test=net-tso-init rxbuf=65536 .*result=pass" \
	"the guest negotiated CSUM, GUEST_CSUM, HOST_TSO4 and GUEST_TSO4"
expect_grep "$TMP/out" "^PROBE: test=net-tso-tx frames=$N size=64000 mss=1448 frame-bytes=$((N * 64054)) .*result=pass" \
	"the guest sent $N GSO frames of 64054 bytes"
rx1=$("${NX[@]}" cat /sys/class/net/htap0/statistics/rx_packets)
rb1=$("${NX[@]}" cat /sys/class/net/htap0/statistics/rx_bytes)
if [ $((rx1 - rx0)) = "$N" ] && [ $((rb1 - rb0)) = $((N * 64054)) ]; then
	ok "the TAP counted $N frames, $((N * 64054)) bytes"
else
	not_ok "the TAP counted $((rx1 - rx0)) frames, $((rb1 - rb0)) bytes"
fi
expect_grep "$TMP/sniff.log" "^gso frames: good=$N bad=0" \
	"each reached the host as one GSO frame, header, checksum start and payload intact"
expect_grep "$TMP/err" "tx $N frames $((N * 64054)) bytes; .*bad tx 0, tx errors 0" "hearth's counters agree"

# TSO, host -> guest: bursts of GSO frames from tests/host/gso_send, taken whole
# and in order, first into 64 KiB buffers (one each), then into 4 KiB
# merged buffers (16 per frame) with more frames than the ring holds.
expect_exit 0 "TSO host -> guest: 2 bursts of 20 GSO frames" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --log-level info --net tap=htap0 \
	--cmdline "probe.tests=net-tso-rx $ARGS probe.tsoburst=20 probe.tsorounds=2" --timeout 120s
expect_grep "$TMP/out" "^PROBE: test=net-tso-rx frames=40 size=64000 bad=0 out-of-order=0 max-buffers=1 .*result=pass" \
	"40 GSO frames arrived whole, in order, one buffer each"
expect_grep "$TMP/err" "rx [0-9]+ frames .*bad rx buffers 0, bad tx 0" "no bad buffers"
# 63 buffers hold 3 such frames: the other 5 must wait in the TAP while the
# ring is short of 64 KiB, not be read into the room left and dropped.
expect_exit 0 "TSO host -> guest into merged 4 KiB buffers" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --log-level info --net tap=htap0 \
	--cmdline "probe.tests=net-tso-rx $ARGS probe.tsoburst=8 probe.rxbuf=4096" --timeout 120s
expect_grep "$TMP/out" "^PROBE: test=net-tso-rx frames=8 size=64000 bad=0 out-of-order=0 max-buffers=16 bytes=512000 ready-frames=3 .*result=pass" \
	"8 GSO frames across 16 merged buffers each (num_buffers), the last 5 after waiting"
grep "gso_send" "$TMP/resp.log" | sed 's/^/# /'

# A generated MAC: stable across runs, locally administered.
expect_exit 0 "no mac=: a generated one" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --net tap=htap0 --log-level info \
	--cmdline "probe.tests=net-hostile $ARGS" --timeout 120s
mac1=$(sed -n 's/.*nic 0: TAP htap0, MAC \([0-9a-f:]*\).*/\1/p' "$TMP/err")
case $mac1 in 02:*) ok "generated MAC $mac1 is locally administered" ;; *) not_ok "generated MAC '$mac1'" ;; esac
for c in tx-short-header tx-writable-buffer tx-oversized tx-unnegotiated-gso rx-readable-buffer \
	still-working tx-broken-ring recovered; do
	expect_grep "$TMP/out" "^PROBE: test=net-hostile case=$c result=pass" "hostile: $c"
done
expect_grep "$TMP/err" "bad rx buffers 1, bad tx 4," "hostile chains were dropped and counted"
expect_grep "$TMP/err" "device needs reset" "hearth says why it reset the device"
expect_exit 0 "the same MAC next time" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --net tap=htap0 --log-level info \
	--cmdline "probe.tests=serial" --timeout 60s
expect_grep "$TMP/err" "MAC $mac1" "generated MAC is stable"

# The control API's metrics and config see the NIC: its own counters (the
# hostile driver's dropped chains), and the MAC it was given.
SOCK=$TMP/api.sock
"${NX[@]}" "$H" run --kernel "$PROBE" --net tap=htap0 --api-socket "$SOCK" --shutdown-timeout 0 \
	--cmdline "probe.tests=net-hostile,idle $ARGS" --timeout 120s >"$TMP/bg.out" 2>"$TMP/bg.err" </dev/null &
bg=$!
for _ in $(seq "$(scaled 300)"); do grep -q "PROBE: idle" "$TMP/bg.out" && break; sleep 0.1; done
if curl -sf --unix-socket "$SOCK" http://localhost/v1/metrics >"$TMP/m.json" &&
	curl -sf --unix-socket "$SOCK" http://localhost/v1/vm >"$TMP/vm.json"; then
	if python3 - "$TMP/m.json" "$TMP/vm.json" "$mac1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); vm = json.load(open(sys.argv[2]))
devs = {d["id"]: d for d in m["devices"]}
n = devs["net0"]
assert n["type"] == "virtio-net" and n["tx_bad"] == 4 and n["rx_bad_buffers"] == 1, n
assert n["errors"] >= 5 and n["kicks"] > 0, n
assert devs["rng0"]["type"] == "virtio-rng", devs
assert vm["config"]["nets"] == [{"tap": "htap0", "mac": sys.argv[3]}], vm["config"]
PY
	then ok "metrics: the NIC's counters; config: its TAP and MAC"; else not_ok "metrics/config of the NIC"; sed 's/^/#   /' "$TMP/m.json"; fi
else
	not_ok "the API answered"; sed 's/^/#   /' "$TMP/bg.err"
fi
curl -sf --unix-socket "$SOCK" -X PUT http://localhost/v1/vm/stop >/dev/null || true
wait $bg || true

# Bad input: one line, exit 125, nothing left behind.
expect_exit 125 "a TAP name that is too long" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --net tap=abcdefghijklmnopq
expect_one_line "$TMP/err" "too-long TAP name"
expect_exit 125 "a TUN (not TAP) device" -- bash -c \
	"ip netns exec $NS ip tuntap add dev htun0 mode tun && ip netns exec $NS $H run --kernel $PROBE --net tap=htun0"
expect_grep "$TMP/err" "htun0" "the error names the device"
# hearth creates a missing TAP (it has CAP_NET_ADMIN here) and it goes away with hearth
expect_exit 0 "a TAP hearth creates" -- \
	"${NX[@]}" "$H" run --kernel "$PROBE" --net tap=hnew0 --log-level info \
	--cmdline "probe.tests=serial" --timeout 60s
expect_grep "$TMP/err" "TAP hnew0 \(created, removed on exit\)" "the log says it was created"
# the kernel removes a TAP nobody holds once its last descriptor closes,
# and newer kernels finish that after close() returns: wait for it
for _ in $(seq "$(scaled 50)"); do "${NX[@]}" ip link show hnew0 >/dev/null 2>&1 || break; sleep 0.1; done
if "${NX[@]}" ip link show hnew0 >/dev/null 2>&1; then not_ok "hnew0 still exists 5 s after exit"; else ok "the created TAP is gone after exit"; fi
finish
