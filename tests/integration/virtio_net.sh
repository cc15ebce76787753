#!/usr/bin/env bash
# virtio-net over TAP with the probe guest's own driver
# (tests/guest/probe/net.c), inside a network namespace this test creates:
# a TAP with a link-local address (169.254.0.0/16 only), a UDP responder
# (net_responder.py), hearth attached to the TAP. ARP both ways, ICMP echo
# both ways, UDP echo (contents and order), a receive burst larger than the
# ring, transmit rate; then a hostile driver. Skips (77) when namespaces or
# TAP devices cannot be made here.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH
HERE=$(cd "$(dirname "$0")" && pwd)
HOST_IP=169.254.77.1
GUEST_IP=169.254.77.2
tap_netns "$HOST_IP/16"

"${NX[@]}" python3 "$HERE/net_responder.py" "$HOST_IP" 7777 "$GUEST_IP" "$TMP/resp.log" &
BG_PID=$!
for _ in $(seq 50); do grep -q listening "$TMP/resp.log" 2>/dev/null && break; sleep 0.1; done

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
for _ in $(seq 200); do grep -q "PROBE: idle" "$TMP/bg.out" && break; sleep 0.1; done
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
if "${NX[@]}" ip link show hnew0 >/dev/null 2>&1; then not_ok "hnew0 still exists"; else ok "the created TAP is gone after exit"; fi
finish
