#!/usr/bin/env bash
# Shared helpers for hearth's integration tests (sourced, not run).
# Environment: HEARTH (the binary), PROBE (probe.elf), NULLKERNEL (bzImage).
set -euo pipefail

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hearth-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
PASSES=0

kvm_usable() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# Exit 77 (meson's "skipped") when /dev/kvm cannot be used.
require_kvm() {
	if ! kvm_usable; then
		echo "SKIP: /dev/kvm is not usable here"
		exit 77
	fi
}

# HEARTH_TIME_SCALE (scripts/test.sh sets it where guests run emulated, in
# the box): every limit on how long a test waits grows by this factor,
# none is dropped. Waits counted in steps use `scaled N`; the --timeout and
# --shutdown-timeout given to hearth (in either form, `--timeout 60s` or
# `--timeout=60s`) are multiplied by a thin wrapper that then execs the
# real binary (same PID, same output). Time limits that are what a test
# checks (an iSCSI disk's timeout=, say) are not scaled: they are the
# behaviour under test, not a bound on the test.
HEARTH_REAL=${HEARTH:-} # the binary itself, for tests that copy or inspect it
SCALE=${HEARTH_TIME_SCALE:-1}
if ! [[ $SCALE =~ ^[1-9][0-9]{0,2}$ ]]; then
	echo "HEARTH_TIME_SCALE must be a whole number from 1 to 999, not '$SCALE'" >&2
	exit 1
fi
scaled() { echo $(($1 * SCALE)); }
if [ "$SCALE" != 1 ] && [ -n "${HEARTH:-}" ]; then
	{
		echo '#!/usr/bin/env bash'
		echo "# $(basename "$HEARTH") with every --timeout and --shutdown-timeout times $SCALE"
		printf 'real=%q scale=%q\n' "$HEARTH" "$SCALE"
		cat <<'WRAP'
grow() { # a duration: N with an optional unit; anything else is left as it is
	if [[ $1 =~ ^([0-9]{1,9})(ms|s|m|h)?$ ]]; then
		echo "$((10#${BASH_REMATCH[1]} * scale))${BASH_REMATCH[2]}"
	else
		echo "$1"
	fi
}
args=() next=
for a in "$@"; do
	if [ -n "$next" ]; then
		a=$(grow "$a")
	else
		case $a in
		--timeout=* | --shutdown-timeout=*) a=${a%%=*}=$(grow "${a#*=}") ;;
		esac
	fi
	next=
	case $a in --timeout | --shutdown-timeout) next=1 ;; esac
	args+=("$a")
done
exec "$real" "${args[@]}"
WRAP
	} >"$TMP/hearth"
	chmod +x "$TMP/hearth"
	HEARTH=$TMP/hearth
fi

# box_pin_hearth CPU: in the box (scripts/test.sh sets HEARTH_IN_BOX), from
# here on $HEARTH runs with all its threads on the box's CPU number CPU.
# For the tests that pause and resume vCPUs: in the box, a vCPU thread
# kicked out of KVM_RUN from another emulated CPU and run again left its
# guest wild now and then (a triple fault some seconds after a resume, in
# about 1 of 90 pause/resume cycles), never with every thread on one CPU;
# docs/testing.md has the numbers. Where /dev/kvm is native it does nothing.
box_pin_hearth() {
	[ -n "${HEARTH_IN_BOX:-}" ] || return 0
	printf '#!/usr/bin/env bash\nexec taskset -c %q %q "$@"\n' "$1" "$HEARTH" >"$TMP/hearth-pinned"
	chmod +x "$TMP/hearth-pinned"
	HEARTH=$TMP/hearth-pinned
}

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
not_ok() { FAILS=$((FAILS + 1)); echo "not ok - $*"; }

# expect_exit CODE DESCRIPTION -- COMMAND...: runs COMMAND, captures stdout
# in $TMP/out and stderr in $TMP/err, and checks the exit status.
expect_exit() {
	local want=$1 what=$2 got=0
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err" </dev/null || got=$?
	if [ "$got" = "$want" ]; then
		ok "$what (exit $got)"
	else
		not_ok "$what: exit $got, wanted $want"
		sed -n '1,20s/^/#   stderr: /p' "$TMP/err"
		sed -n '1,20s/^/#   stdout: /p' "$TMP/out"
	fi
}

# expect_grep FILE REGEX DESCRIPTION
expect_grep() {
	if grep -Eq -- "$2" "$1"; then
		ok "$3"
	else
		not_ok "$3: no /$2/ in $(basename "$1")"
		# no pipe into head: with pipefail, sed killed by SIGPIPE on a long
		# file would end the whole test (set -e) instead of this check
		sed -n '1,20s/^/#   /p' "$1"
	fi
}

# expect_one_line FILE DESCRIPTION: an error is one line, naming the problem.
expect_one_line() {
	local n
	n=$(wc -l <"$1")
	if [ "$n" = 1 ]; then ok "$2: one line"; else not_ok "$2: $n lines"; sed 's/^/#   /' "$1"; fi
}

# check_image FILE DISK: the probe guest's blk test pattern for DISK at
# sector 8 (4 KiB), zeros everywhere else.
check_image() {
	python3 - "$1" "$2" <<'PY'
import sys
path, disk = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
want = bytes((i * 7 + disk * 13 + 1) & 0xff for i in range(4096))
ok = data[4096:8192] == want and data[:4096].count(0) == 4096 and data[8192:].count(0) == len(data) - 8192
sys.exit(0 if ok else 1)
PY
}

# tap_netns ADDR/PREFIX: a network namespace of this test's own ($NS, run
# commands in it with "${NX[@]}") holding TAP htap0 with ADDR (link-local
# 169.254.0.0/16 only), up; removed with the test's temporary files on exit,
# after the process in $BG_PID (a responder or server) if any. Skips (77)
# where namespaces or TAP devices cannot be made.
tap_netns() {
	NS=hearth-test-$$
	NX=(ip netns exec "$NS")
	BG_PID=
	command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
	ip netns add "$NS" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
	trap 'if [ -n "$BG_PID" ]; then kill "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
		ip netns del "$NS" 2>/dev/null || true; rm -rf "$TMP"' EXIT
	"${NX[@]}" ip tuntap add dev htap0 mode tap 2>/dev/null || { echo "SKIP: cannot create a TAP device"; exit 77; }
	"${NX[@]}" ip link set lo up
	"${NX[@]}" ip addr add "$1" dev htap0
	"${NX[@]}" ip link set htap0 up
}

# ---- a tgtd (iSCSI target) of the test's own ----

# Whether tgtd can be run here (installed; its control socket needs root).
have_tgt() { command -v tgtd >/dev/null && command -v tgtadm >/dev/null && [ "$(id -u)" = 0 ]; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tgt_init: names a portal on a free loopback port (PORT) and a management
# channel (CTL) for start_tgtd, and stops that tgtd on exit. A runs tgtadm
# on it; target TID NAME FILE [options] adds a LUN. TGT_IN=("${NX[@]}")
# before start_tgtd runs tgtd in tap_netns's namespace (its loopback
# portal where hearth runs; the management channel is a file, so A works
# from anywhere); the caller then sets an EXIT trap that does both
# cleanups.
tgt_init() {
	PORT=$(free_port)
	CTL=$((PORT % 30000 + 1000)) # tgtd's management channel (a socket named after it)
	IQN=iqn.2026-01.org.example.hearth
	TGTD=
	TGT_IN=()
	trap 'stop_tgtd; rm -rf "$TMP"' EXIT
}
A() { tgtadm -C "$CTL" --lld iscsi "$@"; }

start_tgtd() {
	${TGT_IN[@]+"${TGT_IN[@]}"} tgtd -f -C "$CTL" --iscsi "portal=127.0.0.1:$PORT" >>"$TMP/tgtd.log" 2>&1 &
	TGTD=$! # ip netns exec execs tgtd: the same process
	# up: its management channel answers and its portal listens (a tgtd
	# that cannot bind its port runs on without one)
	for _ in $(seq "$(scaled 100)"); do
		kill -0 "$TGTD" 2>/dev/null || break
		if A --mode target --op show >/dev/null 2>&1 &&
			[ -n "$(${TGT_IN[@]+"${TGT_IN[@]}"} ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "tgtd did not come up (or does not listen on port $PORT)"
	${TGT_IN[@]+"${TGT_IN[@]}"} ss -tan "sport = :$PORT" 2>/dev/null | head -5
	cat "$TMP/tgtd.log"
	exit 1
}
stop_tgtd() {
	[ -n "$TGTD" ] || return 0
	kill -CONT "$TGTD" 2>/dev/null || true
	for tid in 1 2 3 4 5 6 7 8; do A --mode target --op delete --force --tid $tid >/dev/null 2>&1 || true; done
	tgtadm -C "$CTL" --mode system --op delete >/dev/null 2>&1 || true
	for _ in $(seq "$(scaled 50)"); do kill -0 "$TGTD" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$TGTD" 2>/dev/null || true
	wait "$TGTD" 2>/dev/null || true
	TGTD=
}

# target TID NAME FILE [tgtadm logicalunit options...]
target() {
	local tid=$1 name=$2 file=$3
	shift 3
	A --mode target --op new --tid "$tid" --targetname "$IQN:$name"
	A --mode logicalunit --op new --tid "$tid" --lun 1 -b "$file" "$@"
	A --mode target --op bind --tid "$tid" -I ALL
}

finish() {
	echo "$PASSES passed, $FAILS failed"
	[ "$FAILS" = 0 ]
}
