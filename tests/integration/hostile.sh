#!/usr/bin/env bash
# Hostile guests against hearth's I/O thread (docs/virtio.md, "Work
# budgets"): the probe guest's `reqflood` test loops on requests forever on the
# virtio-rng, a virtio-blk disk (requests of an unknown type, which take no
# request slot) and a virtio-net transmit queue, making a whole ring
# available again whenever the used index moves. hearth must go on serving
# the control API while it does, and stop within its deadlines on SIGTERM
# and on --timeout, with the exit codes of docs/exit-codes.md.
. "$(dirname "$0")/lib.sh"
require_kvm
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
H=$HEARTH
SOCK=$TMP/api.sock
truncate -s 1M "$TMP/disk.img"

# The NIC needs a TAP in a namespace of the test's own; without one the
# flood runs on the rng and the disk only.
NET=() NX=() WANT=2
if (ip netns add "hearth-probe-$$" && ip netns del "hearth-probe-$$") 2>/dev/null; then
	tap_netns 169.254.77.1/24
	NET=(--net tap=htap0)
	WANT=3
else
	echo "# no network namespace here: no virtio-net in the flood"
fi

wait_for() { # FILE REGEX: up to 20 s (scaled)
	for _ in $(seq "$(scaled 200)"); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# requests served so far per device type, as "type=N ..." (net: frames sent)
served() {
	curl -s -m "$(scaled 2)" --unix-socket "$SOCK" http://localhost/v1/metrics |
		python3 -c 'import json,sys
d = json.load(sys.stdin)
print(" ".join("%s=%d" % (x["type"], x["requests"] + x.get("tx_frames", 0) + x.get("tx_errors", 0)) for x in d["devices"]))'
}
# whether every device in the "before" sample served more in the "after" one
grew() {
	python3 -c 'import sys
b = dict(kv.split("=") for kv in sys.argv[1].split())
a = dict(kv.split("=") for kv in sys.argv[2].split())
sys.exit(0 if b and b.keys() == a.keys() and all(int(a[k]) > int(b[k]) for k in b) else 1)' "$1" "$2"
}

# start LOG ARGS...: a flooding guest in the background; sets $pid
start() {
	local log=$1
	shift
	rm -f "$SOCK"
	"${NX[@]}" "$H" run --kernel "$PROBE" --cmdline "probe.tests=reqflood" --console "file:$log" \
		--disk "path=$TMP/disk.img" "${NET[@]}" --api-socket "$SOCK" "$@" \
		>"$TMP/hout" 2>"$TMP/herr" </dev/null &
	pid=$!
	if wait_for "$log" "^PROBE: reqflood started devices=$WANT"; then
		ok "the guest floods $WANT devices"
	else
		not_ok "the flood did not start"; sed 's/^/#   /' "$log" "$TMP/herr" | head -20
	fi
}

# stopped_within SECONDS WANT WHAT: hearth ($pid) has exited with WANT
# within SECONDS; killed otherwise
stopped_within() {
	local got=0
	for _ in $(seq $(($1 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		not_ok "$3: still running after $1 s"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return
	fi
	wait "$pid" || got=$?
	if [ "$got" = "$2" ]; then ok "$3 (exit $got)"; else not_ok "$3: exit $got, wanted $2"; sed 's/^/#   /' "$TMP/herr" | head; fi
}

# ---- the API answers during the flood, SIGTERM stops it ----
start "$TMP/flood.log" --shutdown-timeout 3s --timeout 900s
before=$(served || true)
answered=0 slowest=0
for i in 1 2 3 4 5; do
	sleep 1
	out=$(curl -s -m "$(scaled 1)" -o "$TMP/body" -w '%{http_code} %{time_total}' \
		--unix-socket "$SOCK" http://localhost/v1/vm || true)
	code=${out%% *}
	[ "$code" = 200 ] && grep -q '"running"' "$TMP/body" && answered=$((answered + 1))
	slowest=$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$slowest" "${out##* }" 2>/dev/null || echo "$slowest")
done
echo "# the slowest answer took ${slowest} s"
if [ "$answered" = 5 ]; then
	ok "GET /v1/vm answered 5 of 5 times within $(scaled 1) s each during the flood"
else
	not_ok "GET /v1/vm answered $answered of 5 times within $(scaled 1) s each"
fi
after=$(served || true)
echo "# served before: $before; after: $after"
if grew "$before" "$after" && [ "$(wc -w <<<"$after")" -ge "$WANT" ]; then
	ok "every flooded device went on serving ($after)"
else
	not_ok "the devices did not all make progress: before '$before', after '$after'"
fi
# The guest ignores Ctrl-Alt-Del: the stop comes at --shutdown-timeout
# (3 s, scaled), 143 as for any SIGTERM the guest did not answer.
kill -TERM "$pid"
stopped_within "$(scaled 13)" 143 "SIGTERM stopped a flooding guest at --shutdown-timeout"

# ---- --timeout ends it too ----
start "$TMP/flood2.log" --timeout 5s
stopped_within "$(scaled 20)" 124 "--timeout stopped a flooding guest"

finish
