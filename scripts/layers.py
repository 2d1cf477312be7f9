#!/usr/bin/env python3
"""Checks that the library's files use each other in one direction only.

    layers.py SRC_DIR [OBJECT ...]

SRC_DIR holds the sources and LAYERS, the table of rooms and floors.  A
file's uses are the headers it includes ("..." includes of files in
SRC_DIR) and, for each object file given, the symbols it takes from other
objects (nm).  Every use must go to a room on the same floor or below, and
the rooms must not use each other in a loop.  Prints each violation and
exits 1; prints one summary line and exits 0 when there is none.
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def read_table(src):
    floors = {}
    with open(os.path.join(src, "LAYERS")) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) < 2 or not line[1].isdigit():
                sys.exit(f"layers: LAYERS:{n}: expected 'room floor'")
            floors[line[0]] = int(line[1])
    return floors


def room_of(path):
    return os.path.splitext(os.path.basename(path))[0]


def object_room(path):
    # libtool names the objects of libpmalloc.la "libpmalloc_la-ROOM.o"
    base = room_of(path)
    return base.split("-", 1)[1] if "-" in base else base


def nm_symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRCVWG":
            defined.add(parts[2])
    return defined, undefined


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src, objects = sys.argv[1], sys.argv[2:]
    floors = read_table(src)
    problems = []
    uses = {}  # room -> {room: why}

    def use(a, b, why):
        if a != b:
            uses.setdefault(a, {}).setdefault(b, why)

    files = sorted(f for f in os.listdir(src) if f.endswith((".c", ".h")))
    for f in files:
        if room_of(f) not in floors:
            problems.append(f"src/{f}: its room '{room_of(f)}' is not in LAYERS")
            continue
        with open(os.path.join(src, f)) as text:
            for n, line in enumerate(text, 1):
                m = INCLUDE.match(line)
                if m and os.path.exists(os.path.join(src, m.group(1))):
                    target = room_of(m.group(1))
                    if target in floors:
                        use(room_of(f), target, f"src/{f}:{n} includes {m.group(1)}")

    owner, wanted = {}, {}
    for obj in objects:
        defined, undefined = nm_symbols(obj)
        room = object_room(obj)
        for s in defined:
            owner[s] = room
        wanted[room] = undefined
    for room, syms in wanted.items():
        for s in sorted(syms):
            if s in owner:
                use(room, owner[s], f"{room} uses {s} of {owner[s]}")

    for a, targets in sorted(uses.items()):
        for b, why in sorted(targets.items()):
            if a in floors and b in floors and floors[b] > floors[a]:
                problems.append(f"up: {a} (floor {floors[a]}) uses {b} (floor {floors[b]}): {why}")

    # loops: strongly connected components of more than one room (Tarjan)
    index, low, stack, on_stack, loops = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in uses.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                loops.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(uses):
        if v not in index:
            visit(v)
    for comp in loops:
        members = set(comp)
        edges = [why for a in comp for b, why in uses[a].items() if b in members]
        problems.append("loop: " + " <-> ".join(comp) + " (" + "; ".join(edges) + ")")

    for p in problems:
        print(p)
    nuses = sum(len(t) for t in uses.values())
    if problems:
        print(f"layers: {len(problems)} problem(s) among {len(floors)} rooms")
        return 1
    print(f"layers: {len(floors)} rooms, {nuses} uses, none upwards, no loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
