# SPDX-License-Identifier: MIT
"""The person at a guest's serial console, for tests/linux/debian.sh.

Runs hearth on a pty, as a terminal would, and keeps everything the
console printed in a log file. A test script imports it and drives the
guest step by step:

    con = Console(argv, log_path, 300, scale)   # starts hearth
    if con.login("hearth-debian", "root", "hearth"):
        m = con.run("echo RESULT $((6 * 7)) END", rb"RESULT (\\d+) END", "the output")
    con.stop()                             # SIGTERM: the guest must power off

Results are printed for the calling bash script to count: "ok WHAT" and
"not ok WHAT" lines become lib.sh's ok/not_ok, anything else ("# ...") is
shown as it is. Every wait has a limit, given in seconds as on a KVM host
and multiplied here by @scale (HEARTH_TIME_SCALE, tests/integration/lib.sh):
emulation is slower, not more patient.
"""
import os
import pty
import re
import select
import signal
import time


class Console:
    def __init__(self, argv, log_path, limit, scale=1):
        """Starts @argv (hearth's argv, argv[0] a path) on a pty; @limit
        (seconds, before @scale) is the default wait for a pattern and the
        wait for the power-off."""
        self.scale = float(scale)
        self.limit = float(limit) * self.scale
        self.log = open(log_path, "wb")
        self.seen = b""
        self.start = time.time()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)

    def read_some(self, timeout):
        """Reads what the console has within @timeout s; False at its end."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return False
        self.log.write(data)
        self.log.flush()
        self.seen += data
        return bool(data)

    def expect(self, pattern, what, seconds=None):
        """Waits for @pattern (bytes, a regex) in what the console printed
        since the last match, up to @seconds (scaled; default: the limit);
        the match, or None after a "not ok" line."""
        seconds = self.limit if seconds is None else seconds * self.scale
        end = time.time() + seconds
        while True:
            m = re.search(pattern, self.seen)
            if m:
                self.seen = self.seen[m.end():]
                return m
            if time.time() >= end or not self.read_some(1):
                print(f"not ok {what}: no {pattern!r} within {seconds:.0f} s")
                return None

    def say(self, line):
        os.write(self.fd, line.encode() + b"\r")

    def run(self, line, pattern, what, seconds=None):
        """Types @line and waits for @pattern. A marker the test waits for
        is best printed as $((1+1)) expands it, so that the echo of the
        typed line cannot match it."""
        self.say(line)
        return self.expect(pattern, what, seconds)

    def login(self, host, user, password):
        """Logs in at the login prompt as a person would; True once a shell
        prompt is there."""
        ok = self.expect(rb"%s login: " % host.encode(), "the login prompt on ttyS0")
        print(f"# login prompt after {time.time() - self.start:.0f} s")
        if ok:
            ok = self.run(user, rb"Password: ", "the password prompt", 120)
        if ok:
            ok = self.run(password, rb"%s@%s:~# " % (user.encode(), host.encode()),
                          "a shell prompt after logging in", 120)
        if ok:
            print("ok logged in on the serial console as a person would")
        return bool(ok)

    def checks(self, where):
        """What both of debian.sh's boots check once logged in: a command's
        output (the vCPUs, the disk's size, the memory, systemd's state,
        printed as "# RESULT ..."), the root's source, and a line sent to
        the host over TCP from the NIC (as "net from HOST on @where")."""
        m = self.run("echo RESULT $((6 * 7)) $(nproc) $(cat /sys/block/vda/size) "
                     "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) "
                     "$(systemctl is-system-running --wait) END",
                     rb"RESULT (\d+) (\d+) (\d+) (\d+) (\S+) END", "the command's output")
        if m:
            print(f"# {m.group(0).decode()}")
        self.run("findmnt -no SOURCE /; echo ROOT-$((1+1))", rb"ROOT-2\r?\n", "the root checks", 60)
        self.run("dev=$(ls /sys/class/net | grep -v '^lo$' | head -1); ip link set $dev up && "
                 "ip addr add 169.254.79.2/16 dev $dev && sleep 1 && "
                 f"echo \"net from $(hostname) on {where}\" >/dev/tcp/169.254.79.1/7777 && "
                 "echo NET-$((1+1))",
                 rb"NET-2\r?\n", "the guest sent its line over TCP", 120)
        return m

    def stop(self):
        """Stops hearth as systemd stops a service, with SIGTERM: the guest
        must power off and hearth exit 0. Returns hearth's exit code."""
        t = time.time()
        os.kill(self.pid, signal.SIGTERM)
        end = time.time() + self.limit
        while time.time() < end and self.read_some(1):
            pass
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(f"# stopped {time.time() - t:.0f} s after SIGTERM")
        print(("ok" if code == 0 else "not ok") + f" SIGTERM: the guest powered off, hearth exited {code}")
        return code
