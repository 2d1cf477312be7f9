"""Allocation-heavy Python workload for the pmalloc integration tests.

Prints one checksum per phase, so that any difference between a run on
glibc and a run on pmalloc points at the phase that went wrong.  With an
argument, also writes the paths of the files mapped into this process (from
/proc/self/maps) to that file, so the test can see whether libpmalloc was
loaded.
"""
import concurrent.futures
import hashlib
import json
import os
import random
import sys


def digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            part = part.encode()
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def phase_dict(rng):
    # 200k string keys of varied length, then deletions and reinsertions,
    # which make the dict resize up and down.
    d = {}
    for i in range(200_000):
        key = "k%06d-%s" % (i, "x" * rng.randrange(0, 120))
        d[key] = i * 7 + len(key)
    for i in range(0, 200_000, 3):
        d.pop("k%06d-" % i, None)
    removed = [k for k in d if int(k[1:7]) % 5 == 0]
    for k in removed:
        del d[k]
    for i in range(50_000):
        d["new-%d" % i] = str(i) * (i % 13)
    keys = sorted(d)
    return digest(str(len(d)), keys[0], keys[-1], keys[len(keys) // 2],
                  str(sum(len(k) for k in keys)))


def phase_bytes(rng):
    # Buffers of many sizes, from a few bytes to several megabytes
    # (pmalloc's mmap threshold is crossed both ways), freed out of order.
    sizes = [rng.randrange(1, 64) for _ in range(20_000)]
    sizes += [rng.randrange(64, 4096) for _ in range(5_000)]
    sizes += [rng.randrange(4096, 300_000) for _ in range(300)]
    sizes += [1 << s for s in range(10, 24)]
    bufs = []
    h = hashlib.sha256()
    for n, size in enumerate(sizes):
        b = bytes([n & 0xFF]) * size
        bufs.append(b)
        if n % 7 == 0 and bufs:
            victim = bufs.pop(rng.randrange(len(bufs)))
            h.update(victim[:8])
    ba = bytearray()
    for i in range(30_000):
        ba += bytes([i & 0xFF]) * (i % 50)
        if i % 1000 == 999:
            del ba[: len(ba) // 3]
    h.update(ba)
    for b in bufs:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b[-4:])
    return h.hexdigest()[:16]


def phase_lists(rng):
    lists = [[rng.random() for _ in range(rng.randrange(0, 2000))]
             for _ in range(300)]
    flat = sorted(x for lst in lists for x in lst)
    tuples = sorted((int(x * 1e6) % 997, i) for i, x in enumerate(flat))
    sets = [set(range(i, i + 500, 3)) for i in range(0, 20_000, 50)]
    union = set().union(*sets)
    return digest(repr(flat[::997]), repr(tuples[::1009]), str(len(union)),
                  str(sum(union)))


def phase_json(rng):
    doc = {
        "items": [
            {
                "id": i,
                "name": "item-%d" % i,
                "tags": ["t%d" % (i * j % 17) for j in range(i % 9)],
                "value": round(rng.random() * 1000, 3),
                "nested": {"a": [i] * (i % 5), "b": {"c": "z" * (i % 40)}},
            }
            for i in range(20_000)
        ],
        "meta": {"count": 20_000, "text": "\u00e9\u4e2d\U0001f600" * 100},
    }
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    again = json.dumps(back, sort_keys=True, indent=1)
    if json.loads(again) != doc:
        raise SystemExit("json round trip changed the document")
    return digest(text, str(len(again)))


def phase_strings(rng):
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                     for _ in range(rng.randrange(1, 15)))
             for _ in range(100_000)]
    text = " ".join(words)
    upper = text.upper().replace("A", "[a]")
    parts = upper.split("E")
    counts = {}
    for w in words:
        counts[w[0]] = counts.get(w[0], 0) + len(w)
    return digest(str(len(text)), str(len(parts)), upper[-200:],
                  repr(sorted(counts.items())))


def thread_work(n):
    d = {}
    for i in range(20_000):
        d[str(i * n)] = bytes(i % 300)
    return digest(*sorted(d))


def phase_threads(rng):
    # Eight threads allocate and free at once (several arenas), then a
    # forked child allocates in its copy of the heap.
    seeds = [rng.randrange(1, 1000) for _ in range(12)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(thread_work, seeds))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.write(write_end, thread_work(seeds[0]).encode())
        os._exit(0)
    os.close(write_end)
    from_child = os.read(read_end, 100).decode()
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if status != 0 or from_child != results[0]:
        raise SystemExit("forked child disagreed: %r %r" % (from_child, results[0]))
    return digest(*results)


def main():
    rng = random.Random(20240601)
    for name, fn in [("dict", phase_dict), ("bytes", phase_bytes),
                     ("lists", phase_lists), ("json", phase_json),
                     ("strings", phase_strings), ("threads", phase_threads)]:
        print("%-8s %s" % (name, fn(rng)), flush=True)
    if len(sys.argv) > 1:
        with open("/proc/self/maps") as maps, open(sys.argv[1], "w") as out:
            paths = sorted({line.split(None, 5)[5].strip()
                            for line in maps if len(line.split(None, 5)) == 6})
            out.write("\n".join(paths) + "\n")


main()
