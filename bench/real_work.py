"""The CPython part of the real-program benchmark (bench/real_programs.py).

Run as `python3 -S real_work.py STEPS [PERCENT]` with PYTHONMALLOC=malloc, so every
object goes through the allocator under test.  It does what interpreted
programs spend their allocations on: objects with attribute dicts, dicts
keyed by strings, string building and splitting, lists sorted and sliced,
and a working set of containers replaced at random.  Everything is derived
from a fixed pseudo-random sequence and the output is a few summary lines,
so the driver can compare it between allocators.
"""

import sys


def numbers(seed):
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield x >> 33


class Record:
    def __init__(self, key, value, tags):
        self.key = key
        self.value = value
        self.tags = tags
        self.children = []

    def weight(self):
        return self.value + sum(c.value for c in self.children) + len(self.tags)


def objects(rnd, n):
    """A forest of records with children, then a pass over it."""
    records = []
    for i in range(n):
        r = Record("r%06d" % (next(rnd) % 100000), next(rnd) % 1000,
                   {"t%d" % (next(rnd) % 50): i for _ in range(next(rnd) % 6)})
        if records and i % 3:
            records[next(rnd) % len(records)].children.append(r)
        records.append(r)
    total = sum(r.weight() for r in records)
    by_key = {}
    for r in records:
        by_key.setdefault(r.key, []).append(r.value)
    return total, len(by_key), max(len(v) for v in by_key.values())


def words(rnd, n):
    """Word counting over generated text: strings, a dict, a sort."""
    syllables = ["ka", "lo", "mi", "ne", "ru", "sha", "to", "vi", "zen", "qua"]
    text = []
    for _ in range(n):
        w = "".join(syllables[next(rnd) % 10] for _ in range(1 + next(rnd) % 4))
        text.append(w if next(rnd) % 5 else w.upper())
    doc = " ".join(text)
    counts = {}
    for w in doc.lower().split():
        counts[w] = counts.get(w, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    lines = doc.replace("ka", "KA-").split("zen")
    return len(counts), top, len(lines), sum(len(s) for s in lines)


def lists(rnd, n):
    """Lists and tuples: build, sort, slice, comprehend."""
    rows = [(next(rnd) % 1000, "v%d" % (next(rnd) % 777), [next(rnd) % 10 for _ in range(4)])
            for _ in range(n)]
    rows.sort()
    evens = [r for r in rows if r[0] % 2 == 0]
    chunks = [rows[i:i + 100] for i in range(0, len(rows), 100)]
    flat = [x for r in evens for x in r[2]]
    return len(evens), len(chunks), sum(flat), rows[len(rows) // 2][1]


def churn(rnd, n):
    """A working set of containers, one replaced at random each step."""
    slots = [None] * 2048
    live = 0
    for _ in range(n):
        i = next(rnd) % len(slots)
        kind = next(rnd) % 4
        if kind == 0:
            slots[i] = {"k%d" % j: j for j in range(next(rnd) % 20)}
        elif kind == 1:
            slots[i] = [str(j) * (next(rnd) % 8) for j in range(next(rnd) % 30)]
        elif kind == 2:
            slots[i] = "x" * (next(rnd) % 3000)
        else:
            slots[i] = None
    return sum(len(s) for s in slots if s is not None)


def main():
    args = sys.argv[1:]
    if not 1 <= len(args) <= 2 or not all(a.isdigit() for a in args):
        sys.exit("usage: real_work.py STEPS [PERCENT]  (PERCENT of the full step size)")
    steps = int(args[0])
    size = int(args[1]) if len(args) > 1 else 100
    rnd = numbers(12345)
    for step in range(steps):
        print("objects", step, *objects(rnd, 200 * size))
        print("words", step, *words(rnd, 400 * size))
        print("lists", step, *lists(rnd, 200 * size))
        print("churn", step, churn(rnd, 100 * size))


if __name__ == "__main__":
    main()
