#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of scripts/layers.py, the include check: on small fixture trees
(clean, a planted wrong-way include, a peer include with and without an
allow line, an unplaced file, a broken map) and on a copy of hearth's own
tree with a wrong-way include planted in it.

usage: test_layers.py SOURCE_ROOT
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(ROOT, "scripts", "layers.py")

MAP = """# fixture

```layers
layer top
  app     src/app.c
layer mid
  disk    src/disk/ include/hearth/disk.h
  lun     src/lun/ include/hearth/lun.h
  nic     src/nic/ include/hearth/nic.h
layer bottom
  log     src/log.c include/hearth/log.h
%s
```
"""

FILES = {
    "src/app.c": '#include "hearth/disk.h"\n#include "hearth/lun.h"\n#include "hearth/log.h"\n',
    "src/disk/disk.c": '#include "hearth/disk.h"\n#include "hearth/log.h"\n#include <stdio.h>\n',
    "src/disk/inner.h": '#include "hearth/log.h"\n',
    "src/lun/lun.c": '#include "hearth/lun.h"\n#include "../disk/inner.h"\n',
    "src/nic/nic.c": '#include "hearth/nic.h"\n#include "missing.h"\n',
    "src/log.c": '#include "hearth/log.h"\n',
    "include/hearth/disk.h": "",
    "include/hearth/lun.h": '#include "hearth/disk.h"\n',
    "include/hearth/nic.h": "",
    "include/hearth/log.h": "",
}

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}")
    else:
        print(f"ok: {what}")


def fixture(d, allow="allow lun -> disk  # lun implements disk.h", extra=None):
    for p, text in dict(FILES, **(extra or {})).items():
        os.makedirs(os.path.join(d, os.path.dirname(p)), exist_ok=True)
        with open(os.path.join(d, p), "w") as f:
            f.write(text)
    os.makedirs(os.path.join(d, "docs"), exist_ok=True)
    with open(os.path.join(d, "docs", "architecture.md"), "w") as f:
        f.write(MAP % allow)


def run(d):
    r = subprocess.run([sys.executable, CHECK, "--root", d], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def case(name, **kw):
    d = tempfile.mkdtemp(prefix="layers-")
    try:
        fixture(d, **kw)
        return run(d)
    finally:
        shutil.rmtree(d)


rc, out, err = case("clean")
check(rc == 0 and "point down" in out and not err, "a clean tree passes")

rc, out, err = case("down", extra={"src/log.c": '#include "hearth/log.h"\n\n#include "hearth/disk.h"\n'})
check(rc == 1, "an upward include fails")
check("src/log.c:3: log -> disk (layer bottom may not include layer mid)" in out.splitlines(),
      "it is named with file, line, components and layers: " + out.strip())

rc, out, err = case("header", extra={"include/hearth/log.h": '#  include "hearth/app.h"\n#include <hearth/nic.h>\n'})
check(rc == 1 and "include/hearth/log.h:2: log -> nic (layer bottom may not include layer mid)" in out,
      "headers are checked too, <hearth/...> as well: " + out.strip())

rc, out, err = case("peer", extra={"src/nic/nic.c": '#include "hearth/nic.h"\n#include "hearth/disk.h"\n'})
check(rc == 1 and out.strip() == "src/nic/nic.c:2: nic -> disk (layer mid may not include layer mid)",
      "peers may not include each other: " + out.strip())

rc, out, err = case("noallow", allow="")
check(rc == 1 and "src/lun/lun.c:2: lun -> disk" in out and "include/hearth/lun.h:1: lun -> disk" in out,
      "a peer include is allowed only by an allow line, relative includes resolved: " + out.strip())

rc, out, err = case("unplaced", extra={"src/stray.c": "int x;\n"})
check(rc == 1 and "src/stray.c: not in the layer map (docs/architecture.md)" in out,
      "a file the map does not place fails: " + out.strip())

rc, out, err = case("badmap", allow="allow lun -> tape")
check(rc == 2 and "no component tape" in err, "a map naming an unknown component is refused: " + err.strip())

# hearth's own tree: the map in docs/architecture.md places every file, and
# a wrong-way include planted in a copy of it is found.
d = tempfile.mkdtemp(prefix="layers-")
try:
    for top in ("src", "include", "docs"):
        shutil.copytree(os.path.join(ROOT, top), os.path.join(d, top))
    rc, out, err = run(d)
    check(rc in (0, 1) and "not in the layer map" not in out,
          "hearth's map parses and places every file: " + (out + err).strip()[:500])
    with open(os.path.join(d, "src", "log.c"), "a") as f:
        f.write('#include "hearth/vm.h"\n')
    n = sum(1 for _ in open(os.path.join(d, "src", "log.c")))
    rc, out2, err = run(d)
    check(rc == 1 and f"src/log.c:{n}: log -> vm (layer util may not include layer vm)" in out2.splitlines(),
          "a planted wrong-way include in hearth's tree is found: " + out2.strip()[-300:])
    found = lambda o: {l for l in o.splitlines() if not l.startswith("layers:")}
    check(found(out2) - found(out) == {f"src/log.c:{n}: log -> vm (layer util may not include layer vm)"},
          "and only it is added")
finally:
    shutil.rmtree(d)

sys.exit(1 if failures else 0)
