#!/usr/bin/env bash
# hearth run --jail (docs/security.md) with the probe guest. Looked at from
# outside while it runs: uid/gid 65534, every capability set empty,
# NoNewPrivs, Seccomp 2 on every thread, an empty root (/proc/PID/root),
# namespaces of its own, its cgroup hearth-PID with the limits asked for,
# removed once hearth has gone. The guest's verdict still comes out; a disk
# and a NIC (a TAP in a namespace of the test's own, link-local addresses)
# work jailed, and so does an iSCSI disk with CHAP (the jail keeps the
# host's network then); RLIMIT_FSIZE and RLIMIT_NOFILE are hit as configured; an
# ordinary user (65534, given /dev/kvm's group) starts a jailed guest
# through a user namespace. The usage errors first, which need no KVM.
. "$(dirname "$0")/lib.sh"
# LeakSanitizer reads /proc at exit, and a jailed hearth has none: its
# check would end every jailed run with a fatal error. Off here, in
# sanitizer builds only; every other test keeps it.
if [[ ${HEARTH_SANITIZE:-none} == *address* ]]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi
H=$HEARTH
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- usage errors: one line, status 125, before anything is opened ----
expect_exit 125 "--jail-uid without --jail" -- "$H" run --kernel "$PROBE" --jail-uid 1000
expect_grep "$TMP/err" "^hearth: --jail-uid needs --jail$" "it names the option"
expect_one_line "$TMP/err" "--jail-uid without --jail"
expect_exit 125 "a cgroup limit without --jail-cgroup" -- "$H" run --kernel "$PROBE" --jail --jail-pids 8
expect_one_line "$TMP/err" "a limit without its group"
expect_exit 125 "--jail-uid 0 (root) is refused" -- "$H" run --kernel "$PROBE" --jail --jail-uid 0
expect_exit 125 "--jail-pids without room for io_uring's workers" -- \
	"$H" run --kernel "$PROBE" --cpus 4 --jail --jail-cgroup x --jail-pids 5
expect_grep "$TMP/err" "^hearth: --jail-pids 5: hearth needs at least [0-9]+ \(4 vCPUs, the I/O thread and up to [0-9]+ io_uring workers\)" "it names the least"
expect_exit 125 "a bad --jail-cpus" -- "$H" run --kernel "$PROBE" --jail --jail-cgroup x --jail-cpus 0
printf '{"kernel": "%s", "jail_uid": "x"}' "$PROBE" >"$TMP/bad.json"
expect_exit 125 "a bad jail key in --config" -- "$H" run --config "$TMP/bad.json"
expect_grep "$TMP/err" "'jail_uid' must be a number" "the file's key is named"

# ---- a cgroup v2 parent for the jails (mounted here if the host has none:
# the box mounts no cgroup file system) ----
CG_MNT=$(awk '/ - cgroup2 / { print $5; exit }' /proc/self/mountinfo)
CG_OURS=
if [ -z "$CG_MNT" ] && [ "$(id -u)" = 0 ]; then
	mkdir -p "$TMP/cg" && mount -t cgroup2 none "$TMP/cg" 2>/dev/null && CG_MNT=$TMP/cg CG_OURS=1
fi
CG_NAME=hearth-jail-test-$$
CG=
CG_LIMITS=
if [ -n "$CG_MNT" ] && [ "$(id -u)" = 0 ] && mkdir "$CG_MNT/$CG_NAME" 2>/dev/null; then
	CG=$CG_MNT/$CG_NAME
	if [ -n "$(comm -12 <(tr ' ' '\n' <"$CG_MNT/cgroup.controllers" | sort) <(printf 'cpu\nmemory\npids\n'))" ] &&
		echo "+cpu +memory +pids" >"$CG_MNT/cgroup.subtree_control" 2>/dev/null; then
		CG_LIMITS=1
	fi
fi
cleanup() {
	if [ -n "${BG_PID:-}" ]; then kill "$BG_PID" 2>/dev/null || true; wait "$BG_PID" 2>/dev/null || true; fi
	[ -z "${NS:-}" ] || ip netns del "$NS" 2>/dev/null || true
	[ -z "$CG" ] || rmdir "$CG"/hearth-* "$CG" 2>/dev/null || true
	[ -z "$CG_OURS" ] || umount "$TMP/cg" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
# the cgroup usage error needs the mount, not KVM
if [ -n "$CG_MNT" ]; then
	expect_exit 125 "--jail-cgroup that does not exist" -- \
		"$H" run --kernel "$PROBE" --jail --jail-cgroup "hearth-no-such-group-$$"
	expect_grep "$TMP/err" "^hearth: --jail-cgroup 'hearth-no-such-group-$$': No such file or directory" \
		"it names the group"
	expect_one_line "$TMP/err" "a missing cgroup"
fi

if ! kvm_usable; then
	echo "# /dev/kvm is not usable here: the jailed guests are not run"
	finish
	exit
fi
if [ "$(id -u)" != 0 ]; then
	echo "# the jailed guests are run as root (which starts hearth as another user too)"
	finish
	exit
fi

# field PID KEY: /proc/PID/status's value of KEY (tabs as spaces)
field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "/proc/$1/status"; }

# watch PID WHAT UID: once its 2 vCPU threads run, hearth as the host sees it
watch() {
	local pid=$1 what=$2 uid=$3 seen=no s n
	for _ in $(seq "$(scaled 200)"); do
		n=0
		for s in /proc/"$pid"/task/*/status; do
			awk '/^Name:/ { n = $2 } /^Seccomp:/ { if ($2 == 2) print n }' "$s" 2>/dev/null || true
		done >"$TMP/modes"
		if [ "$(grep -c '^vcpu' "$TMP/modes")" = 2 ]; then seen=yes; break; fi
		sleep 0.1
	done
	if [ $seen = no ]; then
		not_ok "$what: the vCPUs never ran filtered"
		sed -n '1,20s/^/#   stderr: /p' "$TMP/err"
		return
	fi
	# gone already: say why rather than end the script on a missing /proc entry
	if ! n=$(ls /proc/"$pid"/task 2>/dev/null | wc -l) || [ "$n" = 0 ]; then
		not_ok "$what: hearth ended while being looked at"
		sed -n '1,20s/^/#   stderr: /p' "$TMP/err"
		return
	fi
	if [ "$(wc -l <"$TMP/modes")" = "$n" ]; then ok "$what: Seccomp 2 on all $n threads"; else not_ok "$what: $(wc -l <"$TMP/modes") of $n threads filtered"; fi
	for k in Uid Gid; do
		if [ "$(field "$pid" $k)" = "$uid $uid $uid $uid" ]; then ok "$what: $k $uid"; else not_ok "$what: $k '$(field "$pid" $k)'"; fi
	done
	for k in CapInh CapPrm CapEff CapBnd CapAmb; do
		if [ "$(field "$pid" $k)" = 0000000000000000 ]; then ok "$what: $k empty"; else not_ok "$what: $k $(field "$pid" $k)"; fi
	done
	if [ "$(field "$pid" NoNewPrivs)" = 1 ]; then ok "$what: NoNewPrivs"; else not_ok "$what: NoNewPrivs $(field "$pid" NoNewPrivs)"; fi
	if [ -z "$(ls -A /proc/"$pid"/root/ 2>&1)" ]; then ok "$what: its root is empty"; else
		not_ok "$what: its root holds: $(ls -A /proc/"$pid"/root/ 2>&1 | head -5 | tr '\n' ' ')"
	fi
	for ns in mnt net ipc uts; do
		if [ "$(readlink /proc/"$pid"/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ]; then ok "$what: a $ns namespace of its own"; else not_ok "$what: the host's $ns namespace"; fi
	done
}

# run_idle WHAT UID [hearth options]: a jailed idle 2-vCPU guest, watched,
# then stopped with SIGTERM (143); $PID is its process.
run_idle() {
	local what=$1 uid=$2 got=0
	shift 2
	"$@" run --jail --kernel "$PROBE" --cmdline "probe.tests=idle" --cpus 2 --console none \
		--shutdown-timeout 0 --timeout 60s "${JAIL_OPTS[@]}" >"$TMP/out" 2>"$TMP/err" </dev/null &
	PID=$!
	watch "$PID" "$what" "$uid"
	[ -z "${LOOK:-}" ] || $LOOK
	kill -TERM "$PID" 2>/dev/null || true
	wait "$PID" || got=$?
	if [ "$got" = 143 ]; then ok "$what: SIGTERM stops it (143)"; else
		not_ok "$what: exit $got after SIGTERM"
		sed -n '1,20s/^/#   stderr: /p' "$TMP/err"
	fi
}

# the group's limits, read while it runs
look_cgroup() {
	local d=$CG/hearth-$PID
	if grep -qx "0::/.*$CG_NAME/hearth-$PID" "/proc/$PID/cgroup"; then ok "cgroup: hearth is in $CG_NAME/hearth-$PID"; else
		not_ok "cgroup: /proc/$PID/cgroup: $(tr '\n' ' ' <"/proc/$PID/cgroup")"
	fi
	[ -n "$CG_LIMITS" ] || return 0
	if [ "$(cat "$d/pids.max")" = 16 ]; then ok "cgroup: pids.max 16"; else not_ok "cgroup: pids.max $(cat "$d/pids.max")"; fi
	if [ "$(cat "$d/memory.max")" = $((256 << 20)) ]; then ok "cgroup: memory.max 256M"; else not_ok "cgroup: memory.max $(cat "$d/memory.max")"; fi
	if [ "$(cat "$d/cpu.max")" = "150000 100000" ]; then ok "cgroup: cpu.max 1.5 CPUs"; else not_ok "cgroup: cpu.max $(cat "$d/cpu.max")"; fi
	if [ "$(cat "$d/pids.current")" -ge 3 ]; then ok "cgroup: its threads are counted ($(cat "$d/pids.current"))"; else not_ok "cgroup: pids.current $(cat "$d/pids.current")"; fi
}

# ---- root: dropped to 65534 ----
JAIL_OPTS=()
LOOK=
if [ -n "$CG" ]; then
	JAIL_OPTS=(--jail-cgroup "$CG_NAME")
	# at least 2 vCPUs + the I/O thread + 6 io_uring workers (more on a
	# NUMA host before Linux 6.4)
	[ -z "$CG_LIMITS" ] || JAIL_OPTS+=(--jail-pids 16 --jail-memory 256M --jail-cpus 1.5)
	[ -n "$CG_LIMITS" ] || echo "# the cgroup v2 root here lacks cpu, memory or pids: no limits checked"
	LOOK=look_cgroup
else
	echo "# no cgroup v2 file system here: jailed without a cgroup"
fi
run_idle "root's jail" 65534 "$H"
if [ -n "$CG" ]; then
	for _ in $(seq "$(scaled 50)"); do [ -e "$CG/hearth-$PID" ] || break; sleep 0.1; done
	if [ ! -e "$CG/hearth-$PID" ]; then ok "cgroup: removed once hearth has gone"; else not_ok "cgroup: hearth-$PID left behind"; fi
fi
LOOK=

JAIL_OPTS=(--jail-uid 4321 --jail-gid 4322)
"$H" run --jail --kernel "$PROBE" --cmdline "probe.tests=idle" --console none --timeout 60s \
	"${JAIL_OPTS[@]}" >"$TMP/out" 2>"$TMP/err" </dev/null &
PID=$!
for _ in $(seq "$(scaled 100)"); do [ "$(field "$PID" Uid)" = "4321 4321 4321 4321" ] && break; sleep 0.1; done
if [ "$(field "$PID" Uid)" = "4321 4321 4321 4321" ] && [ "$(field "$PID" Gid)" = "4322 4322 4322 4322" ]; then
	ok "--jail-uid 4321 --jail-gid 4322"
else
	not_ok "--jail-uid/--jail-gid: Uid '$(field "$PID" Uid)' Gid '$(field "$PID" Gid)'"
fi
kill -KILL "$PID" 2>/dev/null || true
wait "$PID" 2>/dev/null || true

# the verdict, a disk
expect_exit 77 "jailed: the guest's status comes out" -- \
	"$H" run --jail --kernel "$PROBE" --cpus 2 --cmdline "probe.tests=serial,smp probe.status=77" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=smp .*up=2 .*result=pass" "jailed: both vCPUs up"
truncate -s 1M "$TMP/d0.img"
expect_exit 0 "jailed: a disk" -- \
	"$H" run --jail --kernel "$PROBE" --disk "path=$TMP/d0.img" --cmdline "probe.tests=blk" \
	--timeout 60s --log-level info
expect_grep "$TMP/err" "jailed: uid 65534 gid 65534, a new network namespace" "the log says it is jailed"
expect_grep "$TMP/err" "jail: (Landlock ABI [0-9]+|no Landlock)" "the log says what Landlock did"
if check_image "$TMP/d0.img" 0; then ok "host: the jailed guest's disk holds what it wrote"; else not_ok "host: the disk differs"; fi

# RLIMIT_FSIZE: the guest's write at 4 KiB fails (IOERR), hearth lives on
rm -f "$TMP/d0.img"
truncate -s 1M "$TMP/d0.img"
expect_exit 1 "jailed, --jail-fsize 4K: the guest's write past it fails" -- \
	"$H" run --jail --jail-fsize 4K --kernel "$PROBE" \
	--disk "path=$TMP/d0.img,engine=sync" --cmdline "probe.tests=blk" --timeout 60s
expect_grep "$TMP/out" "^PROBE: test=blk-write-flush disk=0 status=[1-9].*result=fail" \
	"the write at 4 KiB is an I/O error for the guest"
expect_grep "$TMP/out" "^PROBE: done " "the guest ran to its end (no SIGXFSZ)"
# RLIMIT_NOFILE below what hearth holds: refused, named
expect_exit 125 "--jail-nofile below the descriptors held" -- \
	"$H" run --jail --jail-nofile 4 --kernel "$PROBE" --cmdline "probe.tests=serial" --timeout 60s
expect_grep "$TMP/err" "^hearth: --jail-nofile 4: hearth holds descriptor [0-9]+ already" "it says why"
expect_one_line "$TMP/err" "--jail-nofile too low"

# ---- an iSCSI disk with CHAP: the jail keeps the host's network (for
# libiscsi's reconnects), the login is done before it ----
if have_tgt; then
	tgt_init
	trap 'stop_tgtd; cleanup' EXIT
	truncate -s 1M "$TMP/lun.img"
	start_tgtd
	target 1 chap "$TMP/lun.img"
	A --mode account --op new --user hearth-in --password jail-secret-1
	A --mode account --op bind --tid 1 --user hearth-in
	expect_exit 0 "jailed: an iSCSI disk with CHAP" -- \
		"$H" run --jail --kernel "$PROBE" --log-level info \
		--disk "url=iscsi://hearth-in%jail-secret-1@127.0.0.1:$PORT/$IQN:chap/1" \
		--cmdline "probe.tests=blk" --timeout 60s
	expect_grep "$TMP/err" "jailed: uid 65534 gid 65534, the host's network namespace" \
		"jailed with an iSCSI disk: the host's network namespace kept"
	if check_image "$TMP/lun.img" 0; then ok "host: the jailed guest's iSCSI LUN holds what it wrote"; else not_ok "host: the LUN differs"; fi
	if grep -qF jail-secret-1 "$TMP/err" "$TMP/out"; then not_ok "the CHAP password leaked"; else ok "no CHAP password in the output"; fi
	stop_tgtd
	trap cleanup EXIT
else
	echo "# no tgtd here (or not root): the jailed iSCSI disk is not tested"
fi

# ---- a NIC: the TAP in a namespace of the test's own ----
tap_netns 169.254.77.1/16
trap cleanup EXIT # tap_netns set its own
"${NX[@]}" python3 "$HERE/net_responder.py" 169.254.77.1 7777 169.254.77.2 "$TMP/resp.log" \
	htap0 "$GSO_SEND" &
BG_PID=$!
for _ in $(seq "$(scaled 150)"); do grep -q listening "$TMP/resp.log" 2>/dev/null && break; sleep 0.1; done
expect_exit 0 "jailed: the probe guest talks to the host over virtio-net" -- \
	"${NX[@]}" "$H" run --jail --kernel "$PROBE" --net tap=htap0,mac=52:54:00:12:34:56 \
	--cmdline "probe.tests=net probe.ip=169.254.77.2 probe.peer=169.254.77.1 probe.port=7777 probe.frames=2000" \
	--timeout 120s
expect_grep "$TMP/out" "^PROBE: test=net-arp .*result=pass" "jailed: ARP"
expect_grep "$TMP/out" "^PROBE: test=net-ping count=20 result=pass" "jailed: ICMP echo"
expect_grep "$TMP/out" "^PROBE: test=net-udp-echo sent=300 got=300 bad=0 result=pass" "jailed: UDP echo"

# ---- an ordinary user: 65534 with /dev/kvm's group, a user namespace ----
userns_ok() {
	[ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" != 0 ] &&
		[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" != 0 ]
}
if ! command -v setpriv >/dev/null; then
	echo "# no setpriv(1): the ordinary user's jail is not tested"
elif ! userns_ok; then
	echo "# SKIP part: the kernel forbids unprivileged user namespaces"
elif [ "$(( $(stat -c 0%a /dev/kvm) & 060 ))" != 48 ]; then
	echo "# SKIP part: /dev/kvm is not open to its group here ($(stat -c '%U:%G %a' /dev/kvm))"
else
	# What the user runs, copied where it can reach it: the checkout may
	# sit in a directory only its owner enters (a CI's temporary one).
	chmod 0755 "$TMP"
	cp "$HEARTH_REAL" "$TMP/hearth-bin" && chmod 0755 "$TMP/hearth-bin"
	cp "$PROBE" "$TMP/probe.elf" && chmod 0644 "$TMP/probe.elf"
	PROBE=$TMP/probe.elf UH=$TMP/hearth-bin
	if [ "$H" != "$HEARTH_REAL" ]; then # the time-scale wrapper, onto the copy
		sed "s#^real=[^ ]*#real=$TMP/hearth-bin#" "$H" >"$TMP/hearth-user" && chmod 0755 "$TMP/hearth-user"
		UH=$TMP/hearth-user
	fi
	AS_USER=(setpriv --reuid 65534 --regid 65534 --groups "$(stat -c %g /dev/kvm)" --inh-caps=-all)
	JAIL_OPTS=()
	run_idle "an ordinary user's jail" 65534 "${AS_USER[@]}" "$UH"
	expect_exit 77 "an ordinary user's jailed guest: the status comes out" -- \
		"${AS_USER[@]}" "$UH" run --jail --kernel "$PROBE" --cmdline "probe.tests=serial probe.status=77" \
		--timeout 60s
	expect_exit 125 "an ordinary user cannot choose --jail-uid" -- \
		"${AS_USER[@]}" "$UH" run --jail --jail-uid 4321 --kernel "$PROBE" --timeout 60s
	expect_grep "$TMP/err" "only root chooses the jail's user" "it says why"
fi
finish
