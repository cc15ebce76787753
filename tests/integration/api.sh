#!/usr/bin/env bash
# The control API (docs/api.md) against a running probe guest: every
# endpoint and every malformed request with curl, pause/resume seen in the
# guest's heartbeat, shutdown/stop exit codes, `hearth ctl`, the socket's
# mode and lifetime, and systemd socket activation.
. "$(dirname "$0")/lib.sh"
require_kvm
# In the box, hearth runs on one emulated CPU for the pause/resume cycles
# below (lib.sh's box_pin_hearth says why); elsewhere it runs as it is.
box_pin_hearth 1
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
H=$HEARTH
SOCK=$TMP/api.sock

# start_bg LOG ARGS...: hearth in the background, console to LOG; sets $pid
start_bg() {
	local log=$1
	shift
	"$H" run --console "file:$log" "$@" >"$TMP/hout" 2>"$TMP/herr" </dev/null &
	pid=$!
}
wait_for() { # FILE REGEX: up to 20 s
	for _ in $(seq "$(scaled 200)"); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
finish_bg() { # WANT WHAT
	local got=0
	wait "$pid" || got=$?
	if [ "$got" = "$1" ]; then ok "$2 (exit $got)"; else not_ok "$2: exit $got, wanted $1"; sed 's/^/#   /' "$TMP/herr" | head; fi
}
# api METHOD PATH [curl args...]: the status code on stdout, the body in
# $TMP/body and the headers in $TMP/hdr
api() {
	local m=$1 p=$2 rc=0
	shift 2
	rm -f "$TMP/body" "$TMP/hdr"
	curl -s -m 30 -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" \
		--unix-socket "$SOCK" "$@" "http://localhost$p" || rc=$?
	if [ "$rc" != 0 ]; then # no answer: say why, for the log
		{
			echo "curl: exit $rc for $m $p"
			if kill -0 "$pid" 2>/dev/null; then echo "hearth ($pid) is running"; else echo "hearth ($pid) is gone"; fi
			tail -n 5 "$TMP/herr" 2>/dev/null
		} | sed 's/^/# /' >&2
	fi
	touch "$TMP/body" "$TMP/hdr"
}
# expect_api WANT DESCRIPTION METHOD PATH [curl args...]
expect_api() {
	local want=$1 what=$2 got
	shift 2
	got=$(api "$@")
	if [ "$got" = "$want" ]; then ok "$what ($got)"; else not_ok "$what: $got, wanted $want"; sed 's/^/#   /' "$TMP/body"; fi
}
expect_error_body() { # DESCRIPTION: the last body is {"error":"..."}
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert list(d)==["error"] and d["error"]' "$TMP/body" 2>/dev/null; then
		ok "$1: JSON error body"
	else
		not_ok "$1: body is not {\"error\":...}"; sed 's/^/#   /' "$TMP/body"
	fi
}
json_get() { # EXPR: evaluates EXPR on the last body as d
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1" 2>/dev/null || echo "(no such value)"
}
ticks() { grep -c '^PROBE: tick ' "$1" || true; }

# ---- a running guest with a heartbeat ----
# The probe ticks about 10 times a second for at most probe.ticks lines;
# the checks below must end before it stops, also where everything runs
# slower (a sanitizer build under emulation took over 300 s to get to the
# pause): the budget grows with the time scale.
start_bg "$TMP/tick.log" --kernel "$PROBE" --cmdline "probe.tests=tick probe.ticks=$(scaled 3000)" --api-socket "$SOCK" --cpus 2
wait_for "$TMP/tick.log" "^PROBE: tick 2$" || not_ok "the probe never ticked"

mode=$(stat -c '%a %F' "$SOCK" 2>/dev/null || echo none)
if [ "$mode" = "600 socket" ]; then ok "the socket is mode 0600"; else not_ok "socket: $mode"; fi

expect_api 200 "GET /v1/vm" GET /v1/vm
if [ "$(json_get 'd["state"], d["config"]["cpus"], d["config"]["api_socket"] == sys.argv[1].rsplit("/",1)[0] + "/api.sock", bool(d["version"])')" = "('running', 2, True, True)" ]; then
	ok "state running, the effective config and a version"
else
	not_ok "GET /v1/vm body"; sed 's/^/#   /' "$TMP/body"
fi
grep -qi '^content-type: application/json' "$TMP/hdr" && ok "JSON content type" || not_ok "no JSON content type"

expect_api 200 "GET /v1/metrics" GET /v1/metrics
if [ "$(json_get 'len(d["vcpus"]), d["vcpus"][0]["exits"]["io"] > 0, [x["type"] for x in d["devices"]], d["io_thread"]["backend"] in ("io_uring","epoll")')" = "(2, True, ['virtio-rng'], True)" ]; then
	ok "metrics: per-vCPU exits by reason, devices, the I/O thread"
else
	not_ok "metrics body"; sed 's/^/#   /' "$TMP/body"
fi
io1=$(json_get 'd["vcpus"][0]["exits"]["io"]')
sleep 0.5
api GET /v1/metrics >/dev/null
io2=$(json_get 'd["vcpus"][0]["exits"]["io"]')
if [ "$io2" -gt "$io1" ]; then ok "exit counters move ($io1 -> $io2)"; else not_ok "exit counters stuck at $io1/$io2"; fi

# ---- malformed requests: an error, a JSON body, and the VM unaffected ----
expect_api 404 "unknown path" GET /v2/nothing
expect_error_body "404"
expect_api 404 "unknown path under /v1/vm" PUT /v1/vm/reboot
expect_api 405 "POST /v1/vm" POST /v1/vm
expect_error_body "405"
grep -qi '^allow: GET' "$TMP/hdr" && ok "405 names Allow: GET" || not_ok "no Allow: GET"
expect_api 405 "GET /v1/vm/pause" GET /v1/vm/pause
grep -qi '^allow: PUT' "$TMP/hdr" && ok "405 names Allow: PUT" || not_ok "no Allow: PUT"
expect_api 405 "DELETE /v1/metrics" DELETE /v1/metrics
expect_api 400 "invalid JSON body" PUT /v1/vm/pause -H 'Content-Type: application/json' -d '{"a":'
expect_error_body "invalid JSON"
expect_api 400 "trailing garbage after the JSON" PUT /v1/vm/pause -d '{} x'
expect_api 400 "a body that is not an object" PUT /v1/vm/pause -d '[1]'
expect_api 400 "an unknown field" PUT /v1/vm/pause -d '{"force":true}'
expect_api 400 "GET with a body" GET /v1/vm -d '{}'
head -c 5000 /dev/zero | tr '\0' ' ' >"$TMP/big"
expect_api 413 "oversized body" PUT /v1/vm/pause --data-binary "@$TMP/big"
expect_error_body "413"
expect_api 413 "oversized chunked body" PUT /v1/vm/pause -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/big"
expect_api 414 "overlong target" GET "/v1/$(head -c 400 /dev/zero | tr '\0' a)"
expect_api 431 "oversized headers" GET /v1/vm -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)"
# Raw bytes curl would not send
raw() { python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
print(out.split(b"\r\n")[0].decode())
PY
}
for req in 'garbage\r\n\r\n' 'GET /v1/vm HTTP/9.9\r\n\r\n' 'GET /v1/vm HTTP/1.1\r\nContent-Length: x\r\n\r\n' 'GET \x01\x02 HTTP/1.1\r\n\r\n' 'PUT /v1/vm/pause HTTP/1.1\r\nContent-Length: 5\r\n\r\n{\xff\xfe}\n'; do
	line=$(raw "$req" 2>&1 || true)
	case "$line" in "HTTP/1.1 400 "*) ok "malformed '$req' -> 400" ;; *) not_ok "malformed '$req' -> '$line'" ;; esac
done
python3 - "$SOCK" <<'PY' && ok "a client that leaves mid-request is dropped" || not_ok "half request"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"GET /v1/v"); s.close()
PY
# connections held open do not block the API
python3 - "$SOCK" "$TMP/idle-conns" <<'PY' &
import socket, sys, time
socks = []
for _ in range(12):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
open(sys.argv[2], "w").write("open\n")
time.sleep(3)
PY
hold=$!
wait_for "$TMP/idle-conns" open || true
expect_api 200 "12 idle connections do not lock the API out" GET /v1/vm
wait "$hold" || true
expect_api 200 "the VM is unaffected by all that" GET /v1/vm
[ "$(json_get 'd["state"]')" = running ] && ok "still running" || not_ok "state $(cat "$TMP/body")"

# ---- pause and resume ----
expect_api 204 "PUT /v1/vm/pause" PUT /v1/vm/pause
[ ! -s "$TMP/body" ] && ok "204 has no body" || not_ok "204 with a body"
api GET /v1/vm >/dev/null
[ "$(json_get 'd["state"]')" = paused ] && ok "state paused" || not_ok "state after pause: $(cat "$TMP/body")"
a=$(ticks "$TMP/tick.log")
sleep 1.5
b=$(ticks "$TMP/tick.log")
if [ "$a" = "$b" ]; then ok "no ticks while paused ($a)"; else not_ok "ticks went on while paused: $a -> $b"; fi
expect_api 409 "pause when paused" PUT /v1/vm/pause
expect_error_body "409"
expect_api 200 "metrics while paused" GET /v1/metrics
expect_api 204 "PUT /v1/vm/resume" PUT /v1/vm/resume
api GET /v1/metrics >/dev/null
[ "$(json_get 'all(v["exits"].get("intr", 0) >= 1 for v in d["vcpus"])')" = True ] && ok "every vCPU counts the kick out of KVM_RUN" || { not_ok "no intr exits"; sed 's/^/#   /' "$TMP/body"; }
expect_api 409 "resume when running" PUT /v1/vm/resume
if wait_for "$TMP/tick.log" "^PROBE: tick $((b + 3))$"; then ok "ticks continue after resume"; else not_ok "no ticks after resume"; fi

# ---- hearth ctl ----
expect_exit 0 "ctl status" -- "$H" ctl "$SOCK" status
expect_grep "$TMP/out" '"state":"running"' "ctl prints the JSON body"
expect_exit 0 "ctl pause" -- "$H" ctl "$SOCK" pause
expect_exit 1 "ctl pause when paused: the API's 409" -- "$H" ctl "$SOCK" pause
expect_grep "$TMP/err" "409 the guest is already paused" "ctl says why"
expect_one_line "$TMP/err" "ctl's refusal"
expect_exit 0 "ctl resume" -- "$H" ctl "$SOCK" resume
expect_exit 0 "ctl metrics" -- "$H" ctl "$SOCK" metrics
expect_grep "$TMP/out" '"exits_total"' "ctl metrics prints them"
expect_exit 2 "ctl on a missing socket" -- "$H" ctl "$TMP/nope.sock" status
expect_one_line "$TMP/err" "ctl on a missing socket"
expect_exit 125 "ctl with an unknown command" -- "$H" ctl "$SOCK" reboot
expect_exit 125 "ctl without a command" -- "$H" ctl "$SOCK"

# ---- a second hearth may not take the socket ----
expect_exit 125 "a socket in use is refused" -- "$H" run --kernel "$PROBE" --api-socket "$SOCK" --console none
expect_one_line "$TMP/err" "socket in use"
expect_grep "$TMP/err" "in use" "the error says it is in use"
expect_api 200 "the first hearth still answers" GET /v1/vm

# ---- shutdown with a guest that answers Ctrl-Alt-Del: exit 0 ----
expect_api 204 "PUT /v1/vm/shutdown" PUT /v1/vm/shutdown
finish_bg 0 "the guest shuts down on the API's request"
expect_grep "$TMP/tick.log" "^PROBE: test=tick .* ctrl-alt-del result=pass" "the guest saw Ctrl-Alt-Del"
[ ! -e "$SOCK" ] && ok "the socket is removed on exit" || not_ok "the socket outlived hearth"

# ---- device counters move with the guest's I/O ----
truncate -s 1M "$TMP/m0.img"
start_bg "$TMP/blk.log" --kernel "$PROBE" --cpus 2 --disk "path=$TMP/m0.img" \
	--cmdline "probe.tests=blk,blk-msix,blk-hostile,tick" --api-socket "$TMP/blk.sock"
wait_for "$TMP/blk.log" "^PROBE: tick 1$" || not_ok "the probe never got to its ticks"
SOCK=$TMP/blk.sock
expect_api 200 "metrics after the guest's disk I/O" GET /v1/metrics
if [ "$(json_get '[(x["id"], x["requests"] > 0, x["bytes"] >= 4096, x["errors"] > 0, x["kicks"] > 0, x["interrupts"] > 0) for x in d["devices"] if x["type"] == "virtio-blk"]')" = "[('vda', True, True, True, True, True)]" ]; then
	ok "vda counts requests, bytes, errors (the hostile ones), kicks and interrupts"
else
	not_ok "vda counters"; sed 's/^/#   /' "$TMP/body"
fi
expect_api 204 "stop" PUT /v1/vm/stop
finish_bg 123 "stopped"
SOCK=$TMP/api.sock

# ---- shutdown ignored: stopped at the deadline with 123 ----
# (the deadline leaves room for the four requests below on a loaded host:
# at 3 s, scaled to 12 s in the box, a starved box missed it)
start_bg "$TMP/idle.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --api-socket "$SOCK" --shutdown-timeout 8s
wait_for "$TMP/idle.log" "PROBE: idle" || not_ok "probe never idled"
expect_api 204 "shutdown of a guest that ignores it" PUT /v1/vm/shutdown
api GET /v1/vm >/dev/null
[ "$(json_get 'd["state"]')" = shutting-down ] && ok "state shutting-down" || not_ok "state: $(cat "$TMP/body")"
expect_api 409 "pause while shutting down" PUT /v1/vm/pause
expect_api 409 "shutdown twice" PUT /v1/vm/shutdown
finish_bg 123 "stopped at --shutdown-timeout"
expect_grep "$TMP/herr" "did not shut down within --shutdown-timeout" "the log says why"

# ---- stop, and stop while paused ----
start_bg "$TMP/stop.log" --kernel "$PROBE" --cmdline "probe.tests=idle" --api-socket "$SOCK"
wait_for "$TMP/stop.log" "PROBE: idle" || not_ok "probe never idled"
expect_api 204 "PUT /v1/vm/stop" PUT /v1/vm/stop
finish_bg 123 "stop via the API"
start_bg "$TMP/stop2.log" --kernel "$PROBE" --cmdline "probe.tests=tick" --api-socket "$SOCK" --cpus 2
wait_for "$TMP/stop2.log" "^PROBE: tick 1$" || not_ok "the probe never ticked"
expect_api 204 "pause" PUT /v1/vm/pause
expect_api 204 "stop while paused" PUT /v1/vm/stop
finish_bg 123 "a paused guest stops"

# ---- SIGTERM while paused: resumed, then asked to shut down ----
start_bg "$TMP/term.log" --kernel "$PROBE" --cmdline "probe.tests=tick" --api-socket "$SOCK"
wait_for "$TMP/term.log" "^PROBE: tick 1$" || not_ok "the probe never ticked"
expect_api 204 "pause" PUT /v1/vm/pause
kill -TERM "$pid"
finish_bg 0 "SIGTERM while paused resumes the guest, which shuts down"

# ---- what is at the path ----
: >"$TMP/file"
expect_exit 125 "--api-socket naming a regular file" -- "$H" run --kernel "$PROBE" --api-socket "$TMP/file"
expect_one_line "$TMP/err" "regular file"
[ -f "$TMP/file" ] && ok "the file is left alone" || not_ok "the file was removed"
expect_exit 125 "--api-socket in a missing directory" -- "$H" run --kernel "$PROBE" --api-socket "$TMP/no/dir/s.sock"
expect_one_line "$TMP/err" "missing directory"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$TMP/stale.sock"
expect_exit 124 "a stale socket is replaced" -- "$H" run --kernel "$PROBE" --cmdline "probe.tests=idle" --timeout 500ms --api-socket "$TMP/stale.sock" --console none
[ ! -e "$TMP/stale.sock" ] && ok "and removed on exit" || not_ok "stale socket left"
expect_exit 125 "--api-socket with an empty path" -- "$H" run --kernel "$PROBE" --api-socket ""
expect_exit 125 "--api-socket with a path too long" -- "$H" run --kernel "$PROBE" --api-socket "$TMP/$(head -c 120 /dev/zero | tr '\0' a)"

# ---- systemd socket activation: the API on fd 3 ----
ACT=$TMP/act.sock
if command -v systemd-socket-activate >/dev/null; then
	launcher=(systemd-socket-activate -l "$ACT")
else
	launcher=(python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
os.dup2(s.fileno(), 3)
os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execvp(sys.argv[2], sys.argv[2:])' "$ACT")
fi
"${launcher[@]}" "$H" run --kernel "$PROBE" --cmdline "probe.tests=tick" --console "file:$TMP/act.log" >"$TMP/hout" 2>"$TMP/herr" </dev/null &
pid=$!
for _ in $(seq "$(scaled 100)"); do [ -S "$ACT" ] && break; sleep 0.1; done
SOCK=$ACT
expect_api 200 "socket activation (${launcher[0]}): GET /v1/vm" GET /v1/vm
[ "$(json_get 'd["state"], d["config"]["api_socket"]')" = "('running', None)" ] && ok "served on the passed socket" || not_ok "activated: $(cat "$TMP/body")"
expect_api 204 "socket activation: shutdown" PUT /v1/vm/shutdown
finish_bg 0 "the activated guest shuts down"
# shellcheck disable=SC2016 # $$ is the inner shell's pid, which exec keeps
expect_exit 125 "LISTEN_FDS=2 is refused" -- bash -c 'LISTEN_FDS=2 LISTEN_PID=$$ exec "$0" run --kernel "$1"' "$H" "$PROBE"
expect_one_line "$TMP/err" "LISTEN_FDS=2"

# ---- the unit files parse ----
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$TMP/units"
	SRC=$(dirname "$0")/../../contrib/systemd
	cp "$SRC/hearth@.socket" "$TMP/units/hearth@web.socket"
	cp "$SRC/hearth@.service" "$TMP/units/hearth@web.service"
	expect_exit 0 "systemd-analyze verify hearth@.socket and hearth@.service" -- \
		systemd-analyze verify "$TMP/units/hearth@web.socket" "$TMP/units/hearth@web.service"
	[ ! -s "$TMP/err" ] && ok "without warnings" || { not_ok "systemd-analyze warns"; sed 's/^/#   /' "$TMP/err"; }
	# the seed machine's drop-in (docs/seed.md) on the same unit
	cp "$SRC/hearth@.service" "$TMP/units/hearth@seed.service"
	cp -r "$SRC/../seed/hearth@seed.service.d" "$TMP/units/"
	expect_exit 0 "systemd-analyze verify hearth@seed.service with its drop-in" -- \
		systemd-analyze verify "$TMP/units/hearth@seed.service"
	[ ! -s "$TMP/err" ] && ok "the seed's unit: without warnings" || { not_ok "systemd-analyze warns on the seed's unit"; sed 's/^/#   /' "$TMP/err"; }
fi
finish
