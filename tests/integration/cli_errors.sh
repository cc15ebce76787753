#!/usr/bin/env bash
# Bad user input: one clear line each, the documented exit code, nothing left
# behind. Exit codes: 125 bad usage or input, 126 host/KVM problem.
. "$(dirname "$0")/lib.sh"

H=$HEARTH
K=${MINI_EXIT:?}

expect_exit 125 "no command" -- "$H"
expect_exit 125 "unknown command" -- "$H" frobnicate
expect_grep "$TMP/err" "unknown command" "unknown command is named"
expect_exit 0 "--help" -- "$H" run --help
expect_grep "$TMP/out" "--kernel" "--help lists --kernel"
expect_exit 125 "unknown option" -- "$H" run --kernel "$K" --bogus 1
expect_one_line "$TMP/err" "unknown option"
expect_grep "$TMP/err" "unknown option '--bogus'" "unknown option is named"
expect_exit 125 "missing --kernel" -- "$H" run --cpus 1
expect_grep "$TMP/err" "missing --kernel" "missing --kernel is named"
expect_exit 125 "kernel file missing" -- "$H" run --kernel "$TMP/nope"
expect_grep "$TMP/err" "cannot open kernel .*No such file" "missing kernel is named"
: >"$TMP/empty"
expect_exit 125 "empty kernel" -- "$H" run --kernel "$TMP/empty"
expect_grep "$TMP/err" "not a regular, non-empty file" "empty kernel is named"
expect_exit 125 "memory 0" -- "$H" run --kernel "$K" --memory 0
expect_grep "$TMP/err" "^hearth: --memory" "memory 0 is named"
expect_exit 125 "memory garbage" -- "$H" run --kernel "$K" --memory lots
expect_exit 125 "cpus 0" -- "$H" run --kernel "$K" --cpus 0
expect_grep "$TMP/err" "--cpus" "cpus 0 is named"
expect_exit 125 "timeout garbage" -- "$H" run --kernel "$K" --timeout soon
# what were environment variables are options, checked as the rest
expect_exit 125 "unknown event loop" -- "$H" run --kernel "$K" --event-loop poll
expect_one_line "$TMP/err" "unknown event loop"
expect_grep "$TMP/err" "--event-loop: expected io_uring or epoll, got 'poll'" "the event loop is named"
expect_exit 125 "unknown disk engine" -- "$H" run --kernel "$K" --disk "path=$TMP/nope,engine=aio"
expect_one_line "$TMP/err" "unknown disk engine"
expect_grep "$TMP/err" "--disk: engine= expects io_uring, libaio, sync or auto, got 'aio'" "the engine is named"
expect_exit 125 "an engine for an iSCSI disk" -- "$H" run --kernel "$K" --disk "url=iscsi://h/iqn.x:y/0,engine=sync"
expect_one_line "$TMP/err" "an engine for an iSCSI disk"
expect_grep "$TMP/err" "--disk: engine= applies to path= disks only" "engine= on an iSCSI disk is named"
expect_exit 125 "an initiator for a file disk" -- "$H" run --kernel "$K" --disk "path=$TMP/nope,initiator=iqn.x"
expect_one_line "$TMP/err" "an initiator for a file disk"
expect_grep "$TMP/err" "--disk: initiator= applies to url= disks only" "initiator= on a file disk is named"

expect_exit 125 "memory above the host's" -- "$H" run --kernel "$K" --memory 64T
expect_grep "$TMP/err" "more than the host" "host memory limit is named"

# What is checked against KVM or once the VM exists needs a usable /dev/kvm;
# without one, hearth must say so (and the rest of this file still runs).
if kvm_usable; then
	# The kernel is read into the guest's memory, so its format is checked
	# once the VM exists.
	head -c 65536 /dev/urandom >"$TMP/junk"
	expect_exit 125 "not a kernel" -- "$H" run --kernel "$TMP/junk"
	expect_one_line "$TMP/err" "not a kernel"
	expect_grep "$TMP/err" "not a kernel: expected a Linux bzImage" "non-kernel is named"
	head -c 1000 "$K" >"$TMP/truncated.elf"
	expect_exit 125 "truncated ELF kernel" -- "$H" run --kernel "$TMP/truncated.elf"
	expect_grep "$TMP/err" "kernel '.*truncated.elf'" "truncated kernel is named"
	expect_exit 125 "cpus above KVM's maximum" -- "$H" run --kernel "$K" --cpus 1000
	expect_grep "$TMP/err" "at most [0-9]+ vCPUs" "vCPU limit is named"
	head -c $((40 << 20)) /dev/zero >"$TMP/big.initrd"
	expect_exit 125 "initrd that does not fit" -- "$H" run --kernel "$K" --memory 32M --initrd "$TMP/big.initrd"
	expect_grep "$TMP/err" "initrd of [0-9]+ bytes does not fit" "initrd size is named"
	expect_exit 125 "exit port on top of COM1" -- "$H" run --kernel "$K" --exit-port 0x3f8
	expect_grep "$TMP/err" "overlaps" "port overlap is named"

	# A failed start leaves no console file behind.
	expect_exit 125 "bad kernel with a console file" -- "$H" run --kernel "$TMP/junk" --console "file:$TMP/console.log"
	if [ -e "$TMP/console.log" ]; then not_ok "console file left behind"; else ok "no console file left behind"; fi
	expect_exit 125 "console file in a missing directory" -- "$H" run --kernel "$K" --console "file:$TMP/no/dir/log"
	expect_grep "$TMP/err" "cannot create console file" "console file problem is named"

	# Disks: missing, a directory, smaller than a sector, bad options;
	# nothing left behind (the console file of a failed start is removed).
	head -c 100 /dev/zero >"$TMP/tiny.img"
	for bad in "path=$TMP/nope.img" "path=$TMP" "path=$TMP/tiny.img"; do
		expect_exit 125 "--disk $bad" -- "$H" run --kernel "$K" --disk "$bad" --console "file:$TMP/c.log"
		expect_grep "$TMP/err" "^hearth: --disk: .*'$TMP" "the disk is named"
		expect_one_line "$TMP/err" "--disk $bad"
		if [ -e "$TMP/c.log" ]; then not_ok "console file left behind"; else ok "no console file left behind"; fi
	done
else
	echo "# /dev/kvm is not usable here: the checks that need KVM are left out"
	expect_exit 126 "no usable /dev/kvm on this host" -- "$H" run --kernel "$K"
	expect_one_line "$TMP/err" "no usable /dev/kvm"
	expect_grep "$TMP/err" "/dev/kvm" "/dev/kvm is named"
	expect_exit 126 "no usable /dev/kvm, with a console file" -- "$H" run --kernel "$K" --console "file:$TMP/console.log"
	if [ -e "$TMP/console.log" ]; then not_ok "console file left behind"; else ok "no console file left behind"; fi
fi
printf '{"kernel": "%s", "cpus": "many"}' "$K" >"$TMP/bad.json"
expect_exit 125 "--config with a wrong type" -- "$H" run --config "$TMP/bad.json"
expect_grep "$TMP/err" "^hearth: --config .*bad.json: 'cpus' must be a number" "the key is named"
expect_one_line "$TMP/err" "--config error"
expect_exit 125 "--disk without path" -- "$H" run --kernel "$K" --disk readonly=on
expect_grep "$TMP/err" "path=FILE or url=iscsi://... is required" "missing path named"

# Host problems: no /dev/kvm, or no permission on it.
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
	expect_exit 126 "no /dev/kvm" -- unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run --kernel "$1"' "$H" "$K"
	expect_grep "$TMP/err" "no /dev/kvm" "missing /dev/kvm is named"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# the binary itself (not the time-scaling wrapper), where user 65534 can run it
	mkdir "$TMP/bin"
	cp "$HEARTH_REAL" "$TMP/bin/hearth" && cp "$K" "$TMP/" && chmod 755 "$TMP" "$TMP/bin" "$TMP/bin/hearth" &&
		chmod 644 "$TMP/$(basename "$K")"
	if kvm_usable && [ "$(stat -c %a /dev/kvm)" = 600 ]; then
		expect_exit 126 "no permission on /dev/kvm" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$TMP/bin/hearth" run --kernel "$TMP/$(basename "$K")"
		expect_grep "$TMP/err" "permission denied on /dev/kvm: add your user to the 'kvm' group" "permission hint given"
	fi
fi
finish
