#!/usr/bin/env bash
# What an init system sees: SIGTERM asks the guest to shut down
# (Ctrl-Alt-Del) and waits --shutdown-timeout; a guest that ignores it is
# stopped at the deadline, a second signal stops it at once; sd_notify
# READY/STATUS/STOPPING and watchdog pings reach $NOTIFY_SOCKET.
. "$(dirname "$0")/lib.sh"
require_kvm
H=$HEARTH

# start_bg LOG ARGS...: hearth in the background, console to LOG; sets $pid
start_bg() {
	local log=$1
	shift
	"$H" run --console "file:$log" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null &
	pid=$!
}
# wait_for FILE REGEX: up to 10 s
wait_for() {
	for _ in $(seq 100); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
finish_bg() { # finish_bg WANT WHAT
	local got=0
	wait "$pid" || got=$?
	if [ "$got" = "$1" ]; then ok "$2 (exit $got)"; else not_ok "$2: exit $got, wanted $1"; sed 's/^/#   /' "$TMP/err" | head; fi
}

# A guest that answers Ctrl-Alt-Del: clean exit with its own status.
start_bg "$TMP/cad.log" --kernel "$PROBE" --cmdline "probe.tests=cad" --shutdown-timeout 20s
wait_for "$TMP/cad.log" "waiting for ctrl-alt-del" || not_ok "probe never got ready"
kill -TERM "$pid"
finish_bg 0 "SIGTERM: the guest shuts down by itself"
expect_grep "$TMP/cad.log" "^PROBE: test=cad ctrl-alt-del result=pass" "the guest saw Ctrl-Alt-Del"
expect_grep "$TMP/err" "asking the guest to shut down \(Ctrl-Alt-Del\)" "hearth says what it asked"

# SIGINT does the same
start_bg "$TMP/cad2.log" --kernel "$PROBE" --cmdline "probe.tests=cad" --shutdown-timeout 20s
wait_for "$TMP/cad2.log" "waiting for ctrl-alt-del" || not_ok "probe never got ready"
kill -INT "$pid"
finish_bg 0 "SIGINT: the guest shuts down by itself"

# A guest that ignores it: stopped at the deadline.
start=$(date +%s%N)
start_bg "$TMP/idle.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --shutdown-timeout 1s
wait_for "$TMP/idle.log" "PROBE: idle" || not_ok "probe never idled"
kill -TERM "$pid"
finish_bg 143 "a guest that ignores the request is stopped at the deadline"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -ge 1000 ] && [ "$ms" -lt 8000 ]; then ok "after the deadline, not before (${ms} ms)"; else not_ok "stopped after ${ms} ms"; fi
expect_grep "$TMP/err" "did not shut down within --shutdown-timeout" "the log says why"

# A second signal does not wait.
start=$(date +%s%N)
start_bg "$TMP/idle2.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --shutdown-timeout 60s
wait_for "$TMP/idle2.log" "PROBE: idle" || not_ok "probe never idled"
kill -TERM "$pid"
sleep 0.3
kill -TERM "$pid"
finish_bg 143 "a second SIGTERM stops the guest at once"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -lt 8000 ]; then ok "without waiting for the deadline (${ms} ms)"; else not_ok "took ${ms} ms"; fi

# sd_notify: READY when the guest runs, STOPPING on shutdown, watchdog pings.
python3 - "$H" "$PROBE" "$TMP" <<'PY' >"$TMP/notify.txt" 2>&1 || true
import os, signal, socket, subprocess, sys, time
hearth, probe, tmp = sys.argv[1:]
path = os.path.join(tmp, "notify.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(10)
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
p = subprocess.Popen([hearth, "run", "--kernel", probe, "--cmdline", "probe.tests=idle",
                      "--shutdown-timeout", "0", "--console", "none"], env=env)
msgs = []
deadline = time.time() + 10
while time.time() < deadline:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    msgs.append(m)
    if sum("WATCHDOG=1" in x for x in msgs) >= 2:
        break
p.send_signal(signal.SIGTERM)
while True:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    msgs.append(m)
    if "STOPPING=1" in m:
        break
print("exit", p.wait(timeout=10))
for m in msgs:
    print(m.replace("\n", " | "))
PY
expect_grep "$TMP/notify.txt" "^READY=1 \| STATUS=guest running" "READY=1 with a STATUS once the guest runs"
expect_grep "$TMP/notify.txt" "^WATCHDOG=1" "watchdog pings at half WATCHDOG_USEC"
expect_grep "$TMP/notify.txt" "STOPPING=1" "STOPPING=1 when it stops"
expect_grep "$TMP/notify.txt" "^exit 143" "and it exits 143 on SIGTERM with --shutdown-timeout 0"
finish
