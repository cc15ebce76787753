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
	for _ in $(seq "$(scaled 100)"); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
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

# A guest that ignores it: stopped at the deadline (timed from the signal,
# with the deadline as the wrapper scales it)
start_bg "$TMP/idle.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --shutdown-timeout 1s
wait_for "$TMP/idle.log" "PROBE: idle" || not_ok "probe never idled"
start=$(date +%s%N)
kill -TERM "$pid"
finish_bg 143 "a guest that ignores the request is stopped at the deadline"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -ge "$(scaled 1000)" ] && [ "$ms" -lt "$(scaled 8000)" ]; then ok "after the deadline, not before (${ms} ms)"; else not_ok "stopped after ${ms} ms"; fi
expect_grep "$TMP/err" "did not shut down within --shutdown-timeout" "the log says why"

# A second signal does not wait (for a deadline of 60 s, scaled).
start_bg "$TMP/idle2.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --shutdown-timeout 60s
wait_for "$TMP/idle2.log" "PROBE: idle" || not_ok "probe never idled"
start=$(date +%s%N)
kill -TERM "$pid"
sleep 0.3
kill -TERM "$pid"
finish_bg 143 "a second SIGTERM stops the guest at once"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$ms" -lt "$(scaled 20000)" ]; then ok "without waiting for the deadline (${ms} ms)"; else not_ok "took ${ms} ms"; fi

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

# --ready-on marker: READY=1 only once the guest writes its boot marker
# (the probe writes marker 1 at start; the STATUS names it).
ready_on() { # KERNEL: the notifications of a run stopped 0.5 s after its
	# first READY=1 (a READY at start would have come before the marker's),
	# or after 2 s (scaled) without one
	python3 - "$H" "$1" "$TMP" "$(scaled 2)" <<'PY' 2>&1 || true
import os, signal, socket, subprocess, sys, time
hearth, kernel, tmp, limit = sys.argv[1:]
path = os.path.join(tmp, "ready.sock")
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.2)
p = subprocess.Popen([hearth, "run", "--kernel", kernel, "--cmdline", "probe.tests=idle",
                      "--ready-on", "marker", "--shutdown-timeout", "0", "--console", "none"],
                     env=dict(os.environ, NOTIFY_SOCKET=path))
msgs, deadline = [], time.time() + float(limit)
while time.time() < deadline:
    try:
        msgs.append(s.recv(4096).decode())
        if msgs[-1].startswith("READY=1"):
            deadline = min(deadline, time.time() + 0.5)
    except socket.timeout:
        pass
p.send_signal(signal.SIGTERM)
print("exit", p.wait(timeout=10))
for m in msgs:
    print(m.replace("\n", " | "))
PY
}
ready_on "$PROBE" >"$TMP/ready1.txt"
expect_grep "$TMP/ready1.txt" "^READY=1 \| STATUS=guest running \(boot marker 1\)" "--ready-on marker: READY at the guest's boot marker"
n=$(grep -c READY "$TMP/ready1.txt" || true)
[ "$n" = 1 ] && ok "--ready-on marker: one READY, not one at start too" || { not_ok "$n READY messages"; sed 's/^/#   /' "$TMP/ready1.txt"; }
expect_exit 125 "--ready-on with a bad value" -- "$H" run --kernel "$PROBE" --ready-on soon
expect_one_line "$TMP/err" "--ready-on soon"

# SIGHUP (a closed terminal, a reload by habit) is ignored: the guest runs on.
start_bg "$TMP/hup.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --shutdown-timeout 0
wait_for "$TMP/hup.log" "PROBE: idle" || not_ok "probe never idled"
kill -HUP "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null && ok "SIGHUP is ignored" || not_ok "SIGHUP ended hearth"
kill -TERM "$pid"
finish_bg 143 "and SIGTERM still stops it"

# --log-file: hearth's log there, with wall-clock stamps; stderr stays quiet
expect_exit 42 "--log-file" -- "$H" run --kernel "$MINI_EXIT" --exit-port 0x4f0 --log-level info --log-file "$TMP/hearth.log" --console none
expect_grep "$TMP/hearth.log" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z hearth\[[0-9.]+\] info io: starting 1 vCPU" "the log file has wall-clock stamped lines with levels"
[ ! -s "$TMP/err" ] && ok "nothing on stderr with --log-file" || { not_ok "stderr with --log-file"; sed 's/^/#   /' "$TMP/err"; }
expect_exit 125 "--log-file in a missing directory" -- "$H" run --kernel "$PROBE" --log-file "$TMP/no/such/dir/log"
expect_one_line "$TMP/err" "--log-file in a missing directory"
finish
