#!/usr/bin/env bash
# bench/net.sh: virtio-net frame rates, hearth side by side with QEMU
# (q35, -netdev tap,vhost=off -device virtio-net-pci) in one run, on the
# same TAP in a network namespace this script creates (169.254.0.0/16
# only) and removes. The guest is the probe with its polling driver (same
# ELF on both, EVENT_IDX honoured), the host end bench/net_responder (the
# tests' responder protocol, in C):
#   guest -> host: N UDP datagrams as fast as the ring takes them (rate from
#                  the guest's TSC; the responder counts what arrived)
#   host -> guest: a burst of M (default 5000) datagrams written at once as
#                  frames into the TAP's queue, which holds them all (rate
#                  from the guest's TSC, first frame to last)
# for 64-byte frames (packet rate) and 1514-byte frames (throughput).
# Then TCP segmentation offload (the guest negotiates CSUM, HOST_TSO4,
# GUEST_CSUM and GUEST_TSO4), TCP/IPv4 GSO frames of 64000 payload bytes:
#   guest -> host: TSO_FRAMES frames to a unicast MAC that is not the TAP's
#                  (the host drops them unanswered as PACKET_OTHERHOST); the
#                  TAP's rx counters must account for every byte the guest
#                  says it sent; rate from the guest's TSC
#   host -> guest: TSO_ROUNDS rounds of TSO_BURST frames tests/host/gso_send
#                  writes into the TAP (via the responder), left to queue,
#                  then taken by the guest; rate from the guest's TSC
# Prints Markdown tables with hearth/QEMU ratios, each cell the median of
# REPEAT (default 3) alternating runs. Needs root (netns, TAP).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
# frame counts: these defaults / SCALE unless given
FRAMES=${FRAMES:-$(scaled 20000)} BURST=${BURST:-$(scaled 5000)} TSO_FRAMES=${TSO_FRAMES:-$(scaled 20000)}
NS=hearth-bench-$$
dir=$(mktemp -d)
RESP=
cleanup() {
	if [ -n "$RESP" ]; then kill "$RESP" 2>/dev/null || true; wait "$RESP" 2>/dev/null || true; fi
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
ip netns add "$NS"
NX=(ip netns exec "$NS")
"${NX[@]}" ip tuntap add dev btap0 mode tap
"${NX[@]}" ip addr add 169.254.88.1/16 dev btap0
# room for a whole host -> guest burst, so it measures how fast the VMM
# drains the TAP rather than how the sender and the VMM share the cores
"${NX[@]}" ip link set btap0 txqueuelen 10000 up
"${NX[@]}" "${RESPONDER:-$BUILD/bench/net_responder}" 169.254.88.1 7777 169.254.88.2 "$dir/resp.log" \
	btap0 "$BUILD/tests/host/gso_send" &
RESP=$!
sleep 1

# boot VMM ARGS: runs the probe guest on VMM, its console in $dir/out
boot() {
	local vmm=$1 args="probe.ip=169.254.88.2 probe.peer=169.254.88.1 probe.port=7777 $2"
	if [ "$vmm" = hearth ]; then
		"${NX[@]}" timeout 180 "$H" run --kernel "$PROBE" --memory 128M --net tap=btap0 \
			--cmdline "$args" >"$dir/out" 2>"$dir/err" </dev/null || true
		# once per run of the script: hearth's warnings, e.g. that the
		# TAP refused RWF_NOWAIT and frames go one system call each
		grep -h "virtio-net" "$dir/err" >>"$dir/warn" || true
	else
		"${NX[@]}" timeout 180 qemu-system-x86_64 -M q35 -enable-kvm -cpu "$QEMU_CPU" \
			-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$PROBE" -append "$args" \
			-netdev tap,id=n0,ifname=btap0,script=no,downscript=no,vhost=off \
			-device virtio-net-pci,netdev=n0,disable-legacy=on >"$dir/out" 2>/dev/null </dev/null || true
	fi
}

# run VMM TXSIZE RXSIZE: prints "tx_pps rx_pps tx_kicks rx_kicks" from the
# guest's TSC counts and its own count of the kicks it wrote (per 1000
# frames: how often the VMM asked for one)
run() {
	boot "$1" "probe.tests=net probe.frames=$FRAMES probe.burst=$BURST probe.txsize=$2 probe.rxsize=$3"
	awk -v hz="$HZ" '
		/test=net-tx-rate .*result=pass/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } tx = v["frames"] / (v["tsc"] / hz); tk = 1000 * v["kicks"] / v["frames"] }
		/test=net-rx-burst .*result=pass/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } rx = v["frames"] / (v["tsc"] / hz); rk = 1000 * v["kicks"] / v["frames"] }
		END { printf "%s %s %s %s\n", tx ? sprintf("%.0f", tx) : "n/a", rx ? sprintf("%.0f", rx) : "n/a",
			tx ? sprintf("%.1f", tk) : "n/a", rx ? sprintf("%.1f", rk) : "n/a" }' "$dir/out"
}

mbps() { awk -v p="$1" -v s="$2" 'BEGIN { if (p + 0 > 0) printf "%.0f", p * (s + 42) * 8 / 1e6; else print "n/a" }'; }

echo "hearth net bench: $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), KVM: $([ -e /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM), TSC $((HZ / 1000000)) MHz, median of $REPEAT runs per cell" >&2
echo "| workload | hearth frames/s (Mbit/s) | QEMU frames/s (Mbit/s) | hearth/QEMU |"
echo "|---|---|---|---|"
# med N...: the median of the numbers given ("n/a" for runs that failed)
med() { printf '%s\n' "$@" | awk '$1 != "n/a"' | sort -n | awk '{ l[++n] = $1 } END { print n ? l[int((n + 1) / 2)] : "n/a" }'; }
for size in 18 1472; do
	htx=() hrx=() qtx=() qrx=() hk=() qk=()
	for _ in $(seq "$REPEAT"); do # alternating, so a slow spell of the host hits both
		read -r a b c d < <(run hearth $size $size)
		htx+=("$a") hrx+=("$b") hk+=("$c/$d")
		read -r a b c d < <(run qemu $size $size)
		qtx+=("$a") qrx+=("$b") qk+=("$c/$d")
	done
	echo "  $size-byte payloads: hearth tx ${htx[*]} rx ${hrx[*]}; QEMU tx ${qtx[*]} rx ${qrx[*]}" >&2
	echo "  $size-byte payloads, the guest's kicks per 1000 frames (tx/rx): hearth ${hk[*]}; QEMU ${qk[*]}" >&2
	ht=$(med "${htx[@]}") hr=$(med "${hrx[@]}") qt=$(med "${qtx[@]}") qr=$(med "${qrx[@]}")
	frame=$((size + 42 + (size < 18 ? 18 - size : 0)))
	echo "| guest -> host, $frame-byte frames | $ht ($(mbps "$ht" $size)) | $qt ($(mbps "$qt" $size)) | $(ratio "$ht" "$qt") |"
	echo "| host -> guest, $frame-byte frames | $hr ($(mbps "$hr" $size)) | $qr ($(mbps "$qr" $size)) | $(ratio "$hr" "$qr") |"
done

# run_tso VMM: prints "tx_gbps rx_gbps tx_kicks rx_kicks" (TCP payload, from
# the guest's TSC; kicks per 1000 frames);
# tx is n/a unless the TAP's rx counters grew by at least the frames and
# bytes the guest sent (and by no more than its few other small frames)
tap_stat() { "${NX[@]}" cat "/sys/class/net/btap0/statistics/$1"; }
run_tso() {
	local p0 b0 p1 b1
	p0=$(tap_stat rx_packets) b0=$(tap_stat rx_bytes)
	boot "$1" "probe.tests=net-tso-tx,net-tso-rx probe.tsoframes=$TSO_FRAMES probe.tsoburst=${TSO_BURST:-900} probe.tsorounds=${TSO_ROUNDS:-5}"
	p1=$(tap_stat rx_packets) b1=$(tap_stat rx_bytes)
	awk -v hz="$HZ" -v dp=$((p1 - p0)) -v db=$((b1 - b0)) -v vmm="$1" '
		/test=net-tso-tx .*result=pass/ {
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (dp >= v["frames"] && db >= v["frame-bytes"] && db - v["frame-bytes"] < 100 * (dp - v["frames"] + 1)) {
				tx = v["frames"] * v["size"] * 8 / (v["tsc"] / hz) / 1e9
				tk = 1000 * v["kicks"] / v["frames"]
			}
			else
				printf "  %s: the TAP counted %d frames %d bytes, the guest sent %d frames %d bytes\n", vmm, dp, db, v["frames"], v["frame-bytes"] > "/dev/stderr"
		}
		/test=net-tso-rx .*result=pass/ {
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			if (v["tsc"] > 0 && v["bytes"] > v["ready-bytes"]) {
				rx = (v["bytes"] - v["ready-bytes"]) * 8 / (v["tsc"] / hz) / 1e9
				rk = 1000 * v["kicks"] / v["frames"]
			}
		}
		END { printf "%s %s %s %s\n", tx ? sprintf("%.2f", tx) : "n/a", rx ? sprintf("%.2f", rx) : "n/a",
			tx ? sprintf("%.1f", tk) : "n/a", rx ? sprintf("%.1f", rk) : "n/a" }' "$dir/out"
}

echo
echo "| workload (TCP/IPv4, 64000-byte payload GSO frames, MSS 1448) | hearth Gbit/s | QEMU Gbit/s | hearth/QEMU |"
echo "|---|---|---|---|"
htx=() hrx=() qtx=() qrx=() hk=() qk=()
for _ in $(seq "$REPEAT"); do
	read -r a b c d < <(run_tso hearth)
	htx+=("$a") hrx+=("$b") hk+=("$c/$d")
	read -r a b c d < <(run_tso qemu)
	qtx+=("$a") qrx+=("$b") qk+=("$c/$d")
done
echo "  TSO: hearth tx ${htx[*]} rx ${hrx[*]}; QEMU tx ${qtx[*]} rx ${qrx[*]} (Gbit/s)" >&2
echo "  TSO, the guest's kicks per 1000 frames (tx/rx): hearth ${hk[*]}; QEMU ${qk[*]}" >&2
ht=$(med "${htx[@]}") hr=$(med "${hrx[@]}") qt=$(med "${qtx[@]}") qr=$(med "${qrx[@]}")
echo "| guest -> host, TSO | $ht | $qt | $(ratio "$ht" "$qt") |"
echo "| host -> guest, TSO | $hr | $qr | $(ratio "$hr" "$qr") |"
[ ! -s "$dir/warn" ] || sed 's/^hearth\[[0-9.]*\] //' "$dir/warn" | sort | uniq -c | sed 's/^ */# hearth, runs: /' >&2
sed 's/^/# responder: /' "$dir/resp.log" | grep -v "^# responder: gso_send" >&2
grep "^gso_send" "$dir/resp.log" | awk '{ n++; for (i = 1; i < NF; i++) if ($i == "in" && $(i + 1) > m) m = $(i + 1) } END { if (n) printf "# gso_send: %d bursts, the slowest took %.3f s (the guest waits about half a second)\n", n, m }' >&2
