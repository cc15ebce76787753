#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that every #include in src/ and include/ follows the layer map.

The map is the fenced ```layers block of docs/architecture.md (the single
source; its syntax is described there). A file may include its own
component's files, files of any layer below its own, and the peers an
"allow" line names; anything else is a wrong-way arrow, printed as

    FILE:LINE: A -> B (layer X may not include layer Y)

Every .c and .h file under src/ and include/ must belong to exactly one
component. Exit status: 0 when all arrows point down, 1 when any does not,
2 when the map itself is unusable.

usage: layers.py [--root DIR] [--map FILE]   (defaults: the repository, DIR/docs/architecture.md)
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*(?:"([^"]+)"|<(hearth/[^>]+)>)')


def fail_map(msg):
    print(f"layers: {msg}", file=sys.stderr)
    sys.exit(2)


def read_map(path):
    """-> (layers: [name], comps: {name: (layer index, [paths])}, allow: {(a, b)})"""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        fail_map(f"cannot read the map: {e}")
    m = re.search(r"^```layers\n(.*?)^```", text, re.M | re.S)
    if not m:
        fail_map(f"{path} has no ```layers block")
    layers, comps, allow = [], {}, set()
    for n, raw in enumerate(m.group(1).splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        words = line.split()
        if words[0] == "layer" and len(words) == 2 and not raw[0].isspace():
            if words[1] in layers:
                fail_map(f"map line {n}: layer {words[1]} twice")
            layers.append(words[1])
        elif words[0] == "allow" and len(words) == 4 and words[2] == "->":
            allow.add((words[1], words[3]))
        elif raw[0].isspace() and layers and len(words) >= 2:
            if words[0] in comps:
                fail_map(f"map line {n}: component {words[0]} twice")
            comps[words[0]] = (len(layers) - 1, words[1:])
        else:
            fail_map(f"map line {n}: cannot read '{raw.strip()}'")
    for a, b in allow:
        for c in (a, b):
            if c not in comps:
                fail_map(f"allow {a} -> {b}: no component {c}")
    return layers, comps, allow


def sources(root):
    for top in ("src", "include"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def owner(path, comps):
    """The component owning @path: an exact file entry, else the longest directory."""
    best, best_len = None, -1
    for name, (_, paths) in comps.items():
        for p in paths:
            if p == path:
                return name
            if p.endswith("/") and path.startswith(p) and len(p) > best_len:
                best, best_len = name, len(p)
    return best


def resolve(root, src, inc):
    """The repository path @inc names from file @src, or None (not hearth's)."""
    cands = [os.path.join("include", inc), os.path.normpath(os.path.join(os.path.dirname(src), inc))]
    for c in cands:
        if not c.startswith("..") and os.path.isfile(os.path.join(root, c)):
            return c
    return None


def main(argv):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    map_path = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--root", "--map") and args:
            v = args.pop(0)
            if a == "--root":
                root = v
            else:
                map_path = v
        else:
            print(__doc__.strip().splitlines()[-1], file=sys.stderr)
            return 2
    layers, comps, allow = read_map(map_path or os.path.join(root, "docs", "architecture.md"))
    bad, files, arrows = [], 0, 0
    for src in sources(root):
        files += 1
        a = owner(src, comps)
        if a is None:
            bad.append(f"{src}: not in the layer map (docs/architecture.md)")
            continue
        la = comps[a][0]
        with open(os.path.join(root, src), encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                dst = resolve(root, src, m.group(1) or m.group(2))
                if dst is None:
                    continue
                arrows += 1
                b = owner(dst, comps)
                if b is None:
                    continue  # reported as unmapped on its own
                lb = comps[b][0]
                if a == b or lb > la or (a, b) in allow:
                    continue
                bad.append(f"{src}:{n}: {a} -> {b} (layer {layers[la]} may not include layer {layers[lb]})")
    for line in bad:
        print(line)
    if bad:
        print(f"layers: {len(bad)} against the map in docs/architecture.md", file=sys.stderr)
        return 1
    print(f"layers: {arrows} includes in {files} files point down")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
