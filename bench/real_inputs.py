"""Inputs of the real-program benchmark (bench/real_programs.py): the SQL
script for sqlite3, the C file for gcc and the git repository.

Each is generated from a fixed pseudo-random sequence, so it is the same on
every machine and in every run, and needs nothing beyond the Debian
packages scripts/deps.sh installs.  Only the standard library is used.
"""

import os
import subprocess


class Numbers:
    """A small LCG: the same sequence everywhere, unlike `random`'s across
    Python versions."""

    def __init__(self, seed):
        self.x = seed

    def next(self, bound):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (self.x >> 33) % bound


# --------------------------------------------------------------------------
# sqlite3

def sqlite_script(rows):
    """Create a table of ROWS rows, index it, query, update, delete, and
    check the database.  The rows come from a recursive CTE, so the script
    stays small whatever ROWS is."""
    return """\
PRAGMA journal_mode = MEMORY;
PRAGMA synchronous = OFF;
CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, price REAL, note TEXT);
BEGIN;
WITH RECURSIVE seq(i, r) AS (
    SELECT 1, 12345
    UNION ALL
    SELECT i + 1, (r * 1103515245 + 12345) %% 2147483648 FROM seq WHERE i < %(rows)d)
INSERT INTO item
    SELECT i, r %% 1000, printf('name%%06d', (r / 7) %% 50021), ((r / 3) %% 100003) / 100.0,
           hex(r) || '-' || substr('abcdefghijklmnopqrstuvwxyz', 1 + r %% 26, 1 + r %% 9)
    FROM seq;
COMMIT;
CREATE INDEX item_grp ON item(grp);
CREATE INDEX item_name ON item(name);
SELECT 'rows', count(*), sum(grp), round(total(price), 2) FROM item;
SELECT 'groups', count(*), round(avg(n), 3) FROM (SELECT grp, count(*) AS n FROM item GROUP BY grp);
SELECT 'names', name, count(*) FROM item GROUP BY name ORDER BY count(*) DESC, name LIMIT 5;
SELECT 'range', count(*), round(total(price), 2) FROM item WHERE grp BETWEEN 100 AND 199;
SELECT 'join', count(*) FROM item a JOIN item b ON a.name = b.name AND a.id < b.id
    WHERE a.grp < 100;
SELECT 'sorted', note FROM item ORDER BY note, id LIMIT 3 OFFSET 1000;
BEGIN;
UPDATE item SET price = price * 1.25, note = note || '+' WHERE grp %% 7 = 3;
DELETE FROM item WHERE grp %% 13 = 5;
INSERT INTO item(grp, name, price, note)
    SELECT grp + 1000, name || 'b', price / 2, upper(note) FROM item WHERE id %% 5 = 0;
COMMIT;
CREATE TABLE summary AS
    SELECT grp, count(*) AS n, group_concat(name, ',') AS names FROM item GROUP BY grp;
SELECT 'summary', count(*), sum(n), sum(length(names)) FROM summary;
SELECT 'after', count(*), round(total(price), 2), max(length(note)) FROM item;
SELECT 'distinct', count(DISTINCT name), count(DISTINCT note) FROM item;
PRAGMA integrity_check;
""" % {"rows": rows}


# --------------------------------------------------------------------------
# gcc

def c_source(functions):
    """A C file of FUNCTIONS functions with loops, switches, structs and
    calls between them: enough for -O2 to inline, unroll and vectorise."""
    rnd = Numbers(4242)
    out = ["/* generated for the allocator benchmark */",
           "#include <stddef.h>",
           "#include <string.h>",
           "struct rec { int id; long acc; double w; unsigned char tag[24]; struct rec *next; };",
           "static inline long mix(long a, long b) { return (a * 31) ^ (b >> 3); }"]
    for f in range(functions):
        ops = []
        for s in range(4 + rnd.next(6)):
            kind = rnd.next(4)
            k1, k2, k3 = rnd.next(97) + 1, rnd.next(13) + 1, rnd.next(7)
            if kind == 0:
                ops.append("    for (int i = 0; i < n; i++) { v[i] = v[i] * %d + (v[(i + %d) %% n] >> %d); acc += v[i]; }"
                           % (k1, k2, k3))
            elif kind == 1:
                cases = " ".join("case %d: acc = mix(acc, %d); break;" % (c, rnd.next(1000))
                                 for c in range(3 + rnd.next(8)))
                ops.append("    switch ((acc + %d) & 15) { %s default: acc -= %d; }" % (k1, cases, k2))
            elif kind == 2:
                ops.append("    for (struct rec *p = r; p; p = p->next) { p->acc += acc %% %d; p->w = p->w * 0.%d + %d.0;"
                           " memset(p->tag, %d, sizeof p->tag); if (p->acc > %d) break; }"
                           % (k1, k2, k3, k2, k1 * 1000))
            else:
                callee = rnd.next(f) if f else None
                if callee is not None:
                    ops.append("    acc += f%d(v, n, r, acc & %d);" % (callee, k1))
                else:
                    ops.append("    acc ^= %d;" % k1)
        out.append("long f%d(int *v, int n, struct rec *r, long seed);" % f)
        out.append("long f%d(int *v, int n, struct rec *r, long seed)\n{\n    long acc = seed + %d;\n%s\n    return acc;\n}"
                   % (f, f, "\n".join(ops)))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# git

def _blob_lines(rnd, n):
    return ["line %d: %s" % (i, " ".join("w%d" % rnd.next(500) for _ in range(6)))
            for i in range(n)]


def git_repo(path, commits, files, lines, env):
    """Makes a repository of COMMITS commits at PATH with git fast-import
    (fixed names and dates, so the same hashes everywhere), then checks out
    the work tree.  Each commit edits, inserts and deletes lines in a few of
    FILES files of about LINES lines."""
    rnd = Numbers(777)
    tree = {"src/file%02d.txt" % i: _blob_lines(rnd, lines) for i in range(files)}
    stream = []
    for c in range(commits):
        changed = sorted(tree) if c == 0 else set()
        if c:
            for _ in range(1 + rnd.next(6)):
                name = "src/file%02d.txt" % rnd.next(files)
                changed.add(name)
                body = tree[name]
                for _ in range(1 + rnd.next(20)):
                    i = rnd.next(len(body))
                    what = rnd.next(3)
                    if what == 0:
                        body[i] = "edit %d: %s" % (c, " ".join("w%d" % rnd.next(500) for _ in range(5)))
                    elif what == 1:
                        body.insert(i, "new %d: w%d" % (c, rnd.next(500)))
                    elif len(body) > 10:
                        del body[i]
        stamp = 1700000000 + 3600 * c
        msg = ("commit %d\n\nChanges %d.\n" % (c, rnd.next(100000))).encode()
        stream.append(b"commit refs/heads/main\nmark :%d\n" % (c + 1))
        stream.append(b"author Bench <bench@example.org> %d +0000\n" % stamp)
        stream.append(b"committer Bench <bench@example.org> %d +0000\n" % stamp)
        stream.append(b"data %d\n%s" % (len(msg), msg))
        if c:
            stream.append(b"from :%d\n" % c)
        for name in sorted(changed):
            data = ("\n".join(tree[name]) + "\n").encode()
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
    os.makedirs(path)
    run = dict(cwd=path, env=env, check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.PIPE)
    subprocess.run(["git", "init", "-q", "-b", "main"], **run)
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), **run)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], **run)
