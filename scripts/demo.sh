#!/usr/bin/env bash
# The main demonstration: builds pmalloc (same steps as scripts/test.sh),
# then runs real programs on it through LD_PRELOAD with PMALLOC_STATS=1,
# so that each prints pmalloc's statistics when it exits:
#   1. python3 building a dict of 200,000 strings and sorting them;
#   2. sqlite3 inserting and querying 200,000 rows;
# then draws the heap of a threaded python3 with heapviz, as text and as
# an HTML page (build/demo/heap.html).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

pm_deps
pm_note "building pmalloc in $PM_BUILD_DIR/ (log: $PM_BUILD_DIR/build.log)"
pm_build >/dev/null 2>&1 || pm_die "the build failed; see $PM_BUILD_DIR/build.log"
lib=$(pm_built_lib)

work=$(mktemp -d "${TMPDIR:-/tmp}/pmalloc-demo.XXXXXX") || pm_die "mktemp failed"
trap 'rm -rf "$work"' EXIT

# run_on_pmalloc TITLE COMMAND...: runs COMMAND on pmalloc, shows its
# output, and fails if pmalloc's statistics did not appear (the program
# would then not have been running on pmalloc).
run_on_pmalloc() {
    local title=$1
    shift
    echo
    echo "=== $title"
    echo "\$ LD_PRELOAD=$lib PMALLOC_STATS=1 $*"
    local rc=0
    LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}" PMALLOC_STATS=1 "$@" \
        2>"$work/stderr" || rc=$?
    echo "--- its standard error (pmalloc's statistics at exit):"
    cat "$work/stderr"
    ((rc == 0)) || pm_die "$title: the program exited with status $rc"
    grep -q '^end of pmalloc statistics$' "$work/stderr" ||
        pm_die "$title: no pmalloc statistics on stderr: was pmalloc loaded?"
}

# The interpreter itself, not a wrapper script such as a pyenv shim (whose
# shell processes would each print their own statistics).
python=$(python3 -c 'import sys; print(sys.executable)') ||
    pm_die "python3 does not run"
[[ -x "$python" ]] || pm_die "python3 reports no usable sys.executable ('$python')"

cat >"$work/dict_sort.py" <<'PY'
import sys, time
start = time.perf_counter()
d = {}
for i in range(200_000):
    d["key-%07d-%s" % ((i * 7919) % 1_000_003, "x" * (i % 50))] = i
keys = sorted(d, key=lambda k: (len(k), k))
total = sum(d[k] for k in keys[:1000])
with open("/proc/self/maps") as maps:
    pm = sorted({l.split()[-1] for l in maps if "libpmalloc" in l})
print("dict of %d strings, sorted; first %s, last %s; sum of first 1000 values %d"
      % (len(d), keys[0], keys[-1][:30] + "...", total))
print("pmalloc mapped in this process:", ", ".join(pm) or "NO")
print("took %.2f s" % (time.perf_counter() - start))
PY
run_on_pmalloc "python3: dict of 200,000 strings, sorted" "$python" "$work/dict_sort.py"

run_on_pmalloc "sqlite3: 200,000 rows inserted, indexed and aggregated" \
    sqlite3 "$work/demo.db" <<'SQL'
CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, name TEXT);
WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 200000)
INSERT INTO t SELECT x, x % 100, printf('name-%08d', x * 37 % 1000003) FROM s;
CREATE INDEX t_name ON t (name);
SELECT 'rows', count(*), count(DISTINCT grp), min(name), max(name) FROM t;
SELECT 'largest groups', grp, count(*) FROM t GROUP BY grp ORDER BY count(*) DESC, grp LIMIT 3;
SQL

# The heap picture: python3 runs once more on pmalloc, with threads (so
# there are thread arenas and caches to see), and writes a snapshot of
# its whole heap as it exits; heapviz draws it as text here and as a
# self-contained HTML page that stays in the build directory.
heapviz="$PM_BUILD_DIR/tools/heapviz/heapviz"
[[ -x "$heapviz" ]] || pm_die "$heapviz was not built"
picture_dir="$PM_BUILD_DIR/demo"
mkdir -p "$picture_dir" || pm_die "cannot create $picture_dir"
cat >"$work/threads.py" <<'PY'
import threading
table = {"key-%d" % i: "v" * (i % 300) for i in range(50_000)}
def work(n):
    return sum(len(str(i) * (i % 7)) for i in range(n))
threads = [threading.Thread(target=work, args=(20_000,)) for _ in range(3)]
for t in threads: t.start()
for t in threads: t.join()
for key in list(table)[::3]:
    del table[key]
print("python3 with 3 threads: %d keys left" % len(table))
PY
echo
echo "=== heapviz: the heap of python3 as it exits"
echo "\$ PMALLOC_SNAPSHOT_AT_EXIT=$picture_dir/heap.json LD_PRELOAD=$lib $python $work/threads.py"
rm -f "$picture_dir/heap.json"
PMALLOC_SNAPSHOT_AT_EXIT="$picture_dir/heap.json" LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}" \
    "$python" "$work/threads.py" || pm_die "python3 failed on pmalloc"
[[ -s "$picture_dir/heap.json" ]] || pm_die "no heap snapshot was written"
echo "\$ heapviz $picture_dir/heap.json"
"$heapviz" --max-glyphs 320 "$picture_dir/heap.json" || pm_die "heapviz could not read the snapshot"
"$heapviz" "$picture_dir/heap.json" --html "$picture_dir/heap.html" ||
    pm_die "heapviz could not draw the HTML page"
echo
echo "the same heap as a picture: $(cd "$picture_dir" && pwd)/heap.html (open it in a browser)"

echo
echo "demo finished: every program ran on pmalloc ($lib)"
