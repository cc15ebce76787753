# SPDX-License-Identifier: MIT
"""bench/debian.sh's person at the console: one run of one VMM.

    python3 bench/debian_console.py LABEL SCALE RAM_BYTES LOG -- VMM ARGV...

Starts the VMM (ARGV[0] a path) on a pty through tests/linux/console_user.py's
Console and, counting from just before the fork, times:

- the login prompt (`hearth-debian login: `) on the serial console;
- logging in as root (password `hearth`) and the output of
  `echo OUT-$((6*7))` (`OUT-42`: the typed line's echo cannot match it).

Then it logs out, waits for the login prompt again and, with the guest
idle there, samples /proc/PID/smaps three times one second apart: the
VMM's resident memory outside guest RAM, the largest of the samples.
Then SIGKILL: nothing of the guest's shutdown is measured. Every wait has
a deadline, in seconds as on a KVM host, times SCALE; a guest that misses
one ends the run with the reason, never a hang.

One line on stdout:

    LOGIN_S OUTPUT_S RSS_KIB PRIVATE_KIB RAM_RSS_KIB STATUS

with "-" for what was not measured. STATUS is "ok", or the first thing
that went wrong: timeout-WAIT (login, password, shell, output, relogin),
no-root (the initramfs gave up waiting for its root device), exited-N
(the VMM ended with status N), ram-mappings-N (not exactly one mapping
the size of guest RAM). Everything else (the Console's "not ok" lines)
goes to stderr, after "bench/debian: LABEL:".

Memory, as tests/integration/memory.sh reads it: guest RAM is the one
anonymous mapping at least RAM_BYTES large (hearth's is exactly that size
and marked MADV_DONTDUMP; QEMU's RAM block is one mapping of that size,
with no mark), left out whatever its name or address. RSS_KIB is the Rss
of every other mapping (as bench/run.sh's `stamp --rss-exclude`: shared
libraries' and the executable's clean pages included); PRIVATE_KIB what
nobody shares: anonymous pages and the pages dirtied in file mappings
(memory.sh's "private"). RAM_RSS_KIB is the guest RAM's resident part,
for the log.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "linux"))
from console_user import Console  # noqa: E402

HOST = "hearth-debian"
USER, PASSWORD = "root", "hearth"
# Deadlines in seconds on a KVM host (Debian reaches its login prompt in
# about 5 s there), multiplied by SCALE.
LOGIN_S, PASSWORD_S, SHELL_S, OUTPUT_S, RELOGIN_S = 30, 10, 20, 10, 20
# initramfs-tools' words when the root never shows up (then, with
# panic=-1 on the command line, it reboots: QEMU's -no-reboot ends it)
NO_ROOT = rb"Gave up waiting for root|ALERT! .{0,120}does not exist|Rebooting automatically due to panic"


class ToStderr:
    """Where the Console's prints go: stderr, each line after a prefix."""

    def __init__(self, prefix):
        self.prefix, self.buf = prefix, ""

    def write(self, s):
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            sys.stderr.write(f"{self.prefix}{line}\n")
        return len(s)

    def flush(self):
        sys.stderr.flush()


def smaps_sample(pid, ram_kib):
    """(rss_kib, private_kib, ram_rss_kib, ram_mappings) of PID outside
    guest RAM, from /proc/PID/smaps."""
    exe = os.readlink(f"/proc/{pid}/exe")
    total = priv = ram_rss = ram_n = 0
    maps = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]) and len(parts) >= 5:
                maps.append({"path": " ".join(parts[5:])})
            elif maps and len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                maps[-1][parts[0][:-1]] = int(parts[1])
    for m in maps:
        path = m["path"]
        size, rss = m.get("Size", 0), m.get("Rss", 0)
        anon, sdirty = m.get("Anonymous", 0), m.get("Shared_Dirty", 0)
        if (path == "" or path.startswith("[anon:")) and size >= ram_kib:
            ram_n += 1
            ram_rss += rss
            continue
        total += rss
        if path == exe:
            priv += anon
        elif path.startswith("/"):
            priv += anon + sdirty
        else:
            priv += rss
    return total, priv, ram_rss, ram_n


class Run:
    def __init__(self, con):
        self.con = con
        self.code = None  # the VMM's exit status once reaped

    def reap(self, wait):
        """The VMM's exit status if it has ended (waiting up to @wait s)."""
        end = time.time() + wait
        while self.code is None:
            pid, st = os.waitpid(self.con.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(st)
            elif time.time() >= end:
                break
            else:
                time.sleep(0.1)
        return self.code

    def why(self, wait):
        if re.search(NO_ROOT, self.con.seen):
            return "no-root"
        if self.reap(2) is not None:
            return f"exited-{self.code}"
        return f"timeout-{wait}"

    def kill(self):
        if self.reap(0) is None:
            try:
                os.kill(self.con.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, st = os.waitpid(self.con.pid, 0)
            self.code = os.waitstatus_to_exitcode(st)
        os.close(self.con.fd)
        self.con.log.close()


def measure(run, ram_kib, res):
    con = run.con
    if not con.expect(rb"%s login: " % HOST.encode(), "the login prompt", LOGIN_S):
        return run.why("login")
    res[0] = f"{time.time() - con.start:.2f}"
    steps = ((USER, rb"Password: ", "password", PASSWORD_S),
             (PASSWORD, rb"%s@%s:~# " % (USER.encode(), HOST.encode()), "shell", SHELL_S),
             ("echo OUT-$((6*7))", rb"OUT-42", "output", OUTPUT_S))
    for line, pattern, wait, seconds in steps:
        if not con.run(line, pattern, f"the {wait} prompt" if wait != "output" else "the output", seconds):
            return run.why(wait)
    res[1] = f"{time.time() - con.start:.2f}"
    # back to the login prompt: serial-getty starts again after the logout
    if not con.run("exit", rb"%s login: " % HOST.encode(), "the login prompt after logging out", RELOGIN_S):
        return run.why("relogin")
    best = None
    for _ in range(3):
        time.sleep(1)
        if run.reap(0) is not None:
            return f"exited-{run.code}"
        s = smaps_sample(con.pid, ram_kib)
        if s[3] != 1:
            return f"ram-mappings-{s[3]}"
        if best is None or s[0] > best[0]:
            best = s
    res[2:5] = [str(v) for v in best[:3]]
    return "ok"


def main():
    if len(sys.argv) < 7 or sys.argv[5] != "--":
        sys.exit("usage: debian_console.py LABEL SCALE RAM_BYTES LOG -- VMM ARGV...")
    label, scale, ram_bytes, log = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    argv = sys.argv[6:]
    out = sys.stdout
    sys.stdout = ToStderr(f"bench/debian: {label}: ")
    res = ["-"] * 5
    run = Run(Console(argv, log, LOGIN_S, scale))
    try:
        status = measure(run, ram_bytes // 1024, res)
    finally:
        run.kill()
    print(" ".join(res + [status]), file=out, flush=True)


if __name__ == "__main__":
    main()
