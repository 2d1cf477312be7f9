#!/usr/bin/env python3
"""Real programs under each allocator: the part of bench/run.py that runs
CPython (PYTHONMALLOC=malloc), sqlite3, perl, gcc -O2 and git.

Every program runs the same deterministic work under every allocator,
injected with LD_PRELOAD (children such as cc1, as or git's helpers inherit
it).  Its output (stdout of every step, plus result files such as gcc's
object file) is hashed and must match the glibc run, so a broken allocator
cannot look fast.  Before the timed rounds each allocator runs each program
once at a tiny size with LD_DEBUG=bindings, which proves that in every
process it starts, malloc and free were bound to the preloaded library.
Times are wall clock summed over a program's steps, peak RSS is the largest
`/usr/bin/time -f %M` of the steps (a step's children included).

Also runs on its own, as the smoke test does:

    bench/real_programs.py --smoke [--pmalloc PATH/libpmalloc.so]
"""

import hashlib
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import real_inputs

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["python", "sqlite", "perl", "gcc", "git"]

# Work per program at each size: "full" takes a few seconds per program on
# glibc, "quick" a fraction of a second, "smoke" is the least that still
# runs every step.
SIZES = {
    "full": {"python": (12, 100), "sqlite": 200000, "perl": (30, 100), "gcc": 200,
             "git": (100, 40, 2000, 12)},
    "quick": {"python": (1, 100), "sqlite": 20000, "perl": (3, 100), "gcc": 25,
              "git": (100, 12, 400, 4)},
    "smoke": {"python": (1, 5), "sqlite": 2000, "perl": (1, 5), "gcc": 3,
              "git": (15, 4, 60, 2)},
}

WHAT = {
    "python": "objects, dicts, strings, lists, a churned working set (PYTHONMALLOC=malloc)",
    "sqlite": "sqlite3 CLI: %s rows inserted, indexed, grouped, joined, updated, checked",
    "perl": "hashes of generated words, regex substitutions, split/join, nested records",
    "gcc": "gcc -O2 -c on a generated C file of %s functions (cc1 and as preloaded too)",
    "git": "%s commits: log -p, blame, diff, status, gc, fsck, rev-list",
}

TARGET_REAL_GEOMEAN = 0.85
TARGET_REAL_RSS_MAX = 1.10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def tool(name):
    # Debian's python3, not a version manager's shim (a shell script that
    # would run under the allocator and be timed too).
    if name == "python3" and os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return shutil.which(name)


def base_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LD_", "PYTHON", "PERL", "GIT_", "MALLOC", "PMALLOC"))}
    env.update(LC_ALL="C", TZ="UTC", HOME=home,
               PYTHONMALLOC="malloc", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               PERL_HASH_SEED="0", PERL_PERTURB_KEYS="0",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_PAGER="cat")
    return env


# --------------------------------------------------------------------------
# The programs: set-up once (untimed), a fresh directory per run (untimed),
# then the timed steps.

class Program:
    def __init__(self, name, size, state_dir, env):
        self.name, self.size, self.dir, self.env = name, size, state_dir, env
        self.result_files = []
        getattr(self, "_setup_" + name)()

    def describe(self):
        n = {"sqlite": self.size, "gcc": self.size,
             "git": self.size[0] if self.name == "git" else None}.get(self.name)
        return WHAT[self.name] % n if "%s" in WHAT[self.name] else WHAT[self.name]

    def _setup_python(self):
        steps, pct = self.size
        self.steps = [([tool("python3"), "-S", os.path.join(HERE, "real_work.py"),
                        str(steps), str(pct)], None)]

    def _setup_perl(self):
        steps, pct = self.size
        self.steps = [([tool("perl"), os.path.join(HERE, "real_work.pl"),
                        str(steps), str(pct)], None)]

    def _setup_sqlite(self):
        script = os.path.join(self.dir, "work.sql")
        with open(script, "w") as f:
            f.write(real_inputs.sqlite_script(self.size))
        self.steps = [([tool("sqlite3"), "-bail", "bench.db"], script)]

    def _setup_gcc(self):
        # One source path for every run: the object file names it.
        src = os.path.join(self.dir, "generated.c")
        with open(src, "w") as f:
            f.write(real_inputs.c_source(self.size))
        self.steps = [([tool("gcc"), "-O2", "-c", src, "-o", "out.o"], None)]
        self.result_files = ["out.o"]

    def _setup_git(self):
        commits, files, lines, blames = self.size
        self.template = os.path.join(self.dir, "repo")
        real_inputs.git_repo(self.template, commits, files, lines, self.env)
        git = [tool("git"), "-C", "repo", "-c", "gc.auto=0", "-c", "pack.threads=1",
               "--no-pager"]
        self.steps = [(git + ["log", "-p", "--stat", "-M"], None)]
        self.steps += [(git + ["blame", "HEAD", "--", "src/file%02d.txt" % i], None)
                       for i in range(blames)]
        self.steps += [(git + ["diff", "HEAD~%d" % (commits * 3 // 5), "HEAD"], None),
                       (git + ["status", "--porcelain"], None),
                       (git + ["gc", "-q"], None),
                       (git + ["fsck", "--no-progress", "--full"], None),
                       (git + ["rev-list", "--objects", "--all"], None),
                       (git + ["log", "-p", "--stat", "-M"], None)]

    def prepare_run(self, rundir):
        if self.name == "git":
            shutil.copytree(self.template, os.path.join(rundir, "repo"), symlinks=True)
            # Something for status to find.
            with open(os.path.join(rundir, "repo", "src", "file00.txt"), "a") as f:
                f.write("local change\n")
            with open(os.path.join(rundir, "repo", "untracked.txt"), "w") as f:
                f.write("new\n")


def run_step(argv, stdin_path, cwd, env, out, err, timeout):
    """One step, timed; returns (exit code, wall s, cpu s, maxrss KiB).

    The program is started by /usr/bin/time, as the macro workloads are: a
    child's ru_maxrss starts from its parent's at the fork (the kernel
    keeps it across exec), and this driver is far bigger than time."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    rss_file = os.path.join(cwd, "rss.%d" % os.getpid())
    # time and env themselves run without the allocator and LD_DEBUG.
    mine = ("LD_PRELOAD", "LD_DEBUG", "LD_DEBUG_OUTPUT")
    child = ["%s=%s" % (k, env[k]) for k in mine if env.get(k)]
    env = {k: v for k, v in env.items() if k not in mine}
    argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file, "env"] + child + argv
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=stdin, stdout=out, stderr=err,
                             start_new_session=True)
        killer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        killer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        killer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        rss = 0
        if os.path.exists(rss_file):
            with open(rss_file) as f:
                words = f.read().split()
            os.unlink(rss_file)
            rss = int(words[-1]) if words and words[-1].isdigit() else 0
    finally:
        if stdin_path:
            stdin.close()
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, rss


def run_once(prog, alloc, timeout, preload_ok, debug_dir=None):
    """One run of every step of prog under alloc (an allocator entry: its
    "preload", and an "env" of extra variables for a variant of one)."""
    rundir = tempfile.mkdtemp(prefix="run-", dir=prog.dir)
    try:
        prog.prepare_run(rundir)
        env = dict(prog.env)
        env.update(alloc.get("env", {}))
        preload = alloc["preload"]
        if preload:
            env["LD_PRELOAD"] = preload
        if debug_dir:
            env.update(LD_DEBUG="bindings", LD_DEBUG_OUTPUT=os.path.join(debug_dir, "ld"))
        digest = hashlib.sha256()
        wall = cpu = 0.0
        rss = 0
        for i, (argv, stdin_path) in enumerate(prog.steps):
            out_path = os.path.join(rundir, "step%d.out" % i)
            err_path = os.path.join(rundir, "step%d.err" % i)
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                try:
                    rc, w, c, m = run_step(argv, stdin_path, rundir, env, out, err, timeout)
                except OSError as e:
                    return {"ok": False, "error": "%s: %s" % (argv[0], e)}
            with open(err_path, errors="replace") as f:
                err_text = f.read()
            if rc != 0 or not preload_ok(err_text):
                last = (err_text.strip().splitlines() or [""])[-1][:200]
                what = "killed after %ds" % timeout if rc == -signal.SIGKILL else "exit %d" % rc
                return {"ok": False, "error": "step %d (%s) %s: %s"
                        % (i, os.path.basename(argv[0]), what, last)}
            wall, cpu, rss = wall + w, cpu + c, max(rss, m)
            with open(out_path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
        for name in prog.result_files:
            with open(os.path.join(rundir, name), "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
        return {"ok": True, "secs": wall, "cpu": cpu, "rss_kb": rss,
                "digest": digest.hexdigest()[:16]}
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def bindings_ok(debug_dir, preload):
    """In every process started, malloc or free must have been bound to the
    preloaded library (to libc for glibc) and never to libc when preloading.
    (A non-PIE executable that takes malloc's address is itself the target
    of libc's binding; its own call slots are bound to the real one.)
    Returns an error or None."""
    want = os.path.realpath(preload) if preload else None
    files = sorted(os.listdir(debug_dir))
    if not files:
        return "LD_DEBUG wrote nothing (a static program?)"
    for name in files:
        targets = set()
        with open(os.path.join(debug_dir, name), errors="replace") as f:
            for line in f:
                if "normal symbol `malloc'" in line or "normal symbol `free'" in line:
                    targets.add(line.split(" to ", 1)[1].split(" [", 1)[0])
        libc = {t for t in targets if os.path.basename(t).startswith("libc.so")}
        pid = name.rsplit(".", 1)[-1]
        if want is None:
            if not libc:
                return "process %s never bound malloc to libc" % pid
        elif libc:
            return "process %s bound malloc or free to %s" % (pid, sorted(libc)[0])
        elif not any(os.path.realpath(t) == want for t in targets):
            return "process %s never bound malloc to %s" % (pid, preload)
    return None


def check_preload(prog, alloc, preload_ok):
    """A tiny run with LD_DEBUG=bindings: (digest, error)."""
    debug_dir = tempfile.mkdtemp(prefix="lddebug-", dir=prog.dir)
    try:
        r = run_once(prog, alloc, 120, preload_ok, debug_dir)
        if not r["ok"]:
            return None, r["error"]
        return r["digest"], bindings_ok(debug_dir, alloc["preload"])
    finally:
        shutil.rmtree(debug_dir, ignore_errors=True)


def default_preload_ok(stderr):
    return "cannot be preloaded" not in stderr and "ld.so:" not in stderr


def make_programs(size_name, base, notes):
    env = base_env(base)
    progs = {}
    need = {"python": "python3", "sqlite": "sqlite3", "perl": "perl", "gcc": "gcc",
            "git": "git"}
    for name in PROGRAMS:
        if not tool(need[name]):
            notes.append("real programs: %s not installed (scripts/deps.sh installs it); "
                         "%s skipped" % (need[name], name))
            continue
        d = os.path.join(base, name + "-" + size_name)
        os.makedirs(d)
        try:
            progs[name] = Program(name, SIZES[size_name][name], d, env)
        except (OSError, subprocess.CalledProcessError) as e:
            notes.append("real programs: setting up %s failed (%s); skipped" % (name, e))
    return progs


def run_real(allocs, size_name, rounds, notes, preload_ok=default_preload_ok,
             timeout=600):
    """Runs every program under every allocator, interleaved and rotated per
    round.  Returns one row per (program, allocator)."""
    names = list(allocs)
    base = tempfile.mkdtemp(prefix="pmreal-")
    try:
        log("real programs: setting up (%s size)" % size_name)
        progs = make_programs(size_name, base, notes)
        tiny = progs if size_name == "smoke" else make_programs("smoke", base, [])
        checks = {}
        for p in progs:
            for a in names:
                checks[(p, a)] = check_preload(tiny[p], allocs[a], preload_ok)
        runs = {}
        for rnd in range(rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]
            for p in progs:
                for a in order:
                    r = run_once(progs[p], allocs[a], timeout, preload_ok)
                    runs.setdefault((p, a), []).append(r)
                    log("round %d/%d  real %-7s %-9s %s" % (
                        rnd + 1, rounds, p, a, "%.3fs %d KiB" % (r["secs"], r["rss_kb"])
                        if r["ok"] else "FAILED " + r["error"]))
        return make_rows(progs, names, runs, checks)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def verify(rows_runs, check, ref_digest, ref_tiny):
    """Marks runs whose output differs from glibc's as failed."""
    for r in rows_runs:
        if r["ok"] and ref_digest and r["digest"] != ref_digest:
            r.update(ok=False, error="output differs from glibc's (%s, glibc %s)"
                     % (r["digest"], ref_digest))
    tiny_digest, err = check
    if err:
        return "preload check: " + err
    if ref_tiny and tiny_digest != ref_tiny:
        return "preload check: tiny run's output differs from glibc's"
    return None


def make_rows(progs, names, runs, checks):
    rows = []
    for p in progs:
        g = runs.get((p, "glibc"), [])
        digests = {r["digest"] for r in g if r["ok"]}
        ref = digests.pop() if len(digests) == 1 else None
        ref_tiny = checks.get((p, "glibc"), (None, None))[0]
        for a in names:
            rs = runs.get((p, a), [])
            row = {"program": p, "allocator": a, "what": progs[p].describe(), "runs": rs}
            if a != "glibc" and not ref:
                row["error"] = "no glibc reference output (glibc failed or was not repeatable)"
            else:
                row["preload_check"] = verify(rs, checks[(p, a)], ref, ref_tiny) or "ok"
                if row["preload_check"] != "ok":
                    row["error"] = row["preload_check"]
            good = [r for r in rs if r["ok"]]
            row["failures"] = len(rs) - len(good)
            if "error" not in row and good and not row["failures"]:
                ts = [r["secs"] for r in good]
                row["median_secs"] = statistics.median(ts)
                row["median_cpu_secs"] = statistics.median([r["cpu"] for r in good])
                row["median_rss_kb"] = statistics.median([r["rss_kb"] for r in good])
                row["spread"] = (max(ts) - min(ts)) / row["median_secs"] if len(ts) > 1 else 0.0
            elif "error" not in row:
                row["error"] = next((r["error"] for r in rs if not r["ok"]), "not run")
            rows.append(row)
    by = {(r["program"], r["allocator"]): r for r in rows}
    for r in rows:
        g = by.get((r["program"], "glibc"))
        if g and "median_secs" in g and "median_secs" in r:
            r["time_ratio"] = r["median_secs"] / g["median_secs"]
            r["rss_ratio"] = r["median_rss_kb"] / g["median_rss_kb"]
    return rows


# --------------------------------------------------------------------------
# Summary, targets and report

def summarize(allocs, rows):
    out = {}
    for a in allocs:
        mine = [r for r in rows if r["allocator"] == a]
        out[a] = {"real_geomean_time_ratio": geomean([r.get("time_ratio") for r in mine]),
                  "real_geomean_rss_ratio": geomean([r.get("rss_ratio") for r in mine]),
                  "real_measured": sum(1 for r in mine if "time_ratio" in r),
                  "real_total": len(mine)}
    return out


def evaluate_targets(allocs, rows, summ):
    """#10's targets on the real programs, for pmalloc."""
    if not rows or "pmalloc" not in allocs:
        return []
    t = []

    def add(name, ok, detail):
        t.append({"target": name, "status": "met" if ok else "missed", "detail": detail})

    s = summ["pmalloc"]
    n, tot = s["real_measured"], s["real_total"]
    cov = "" if n == tot else " (only %d of %d programs measured)" % (n, tot)
    g = s["real_geomean_time_ratio"]
    if g is None:
        return [{"target": "real programs", "status": "not measured",
                 "detail": "no pmalloc run verified"}]
    add("real programs geomean time <= %.2f x glibc" % TARGET_REAL_GEOMEAN,
        g <= TARGET_REAL_GEOMEAN and n == tot,
        "%.3f, %+.3f against %.2f%s" % (g, g - TARGET_REAL_GEOMEAN, TARGET_REAL_GEOMEAN, cov))
    peers = {a: v["real_geomean_time_ratio"] for a, v in summ.items()
             if a not in ("pmalloc", "glibc") and v.get("real_geomean_time_ratio")}
    if peers:
        best = min(peers, key=peers.get)
        add("real programs geomean time below every peer's", g < peers[best] and n == tot,
            "%.3f against the best peer, %s %.3f (%.1f%% %s)%s"
            % (g, best, peers[best], abs(g / peers[best] - 1) * 100,
               "faster" if g < peers[best] else "slower", cov))
    mine = [r for r in rows if r["allocator"] == "pmalloc"]
    slow = ["%s %.3fx" % (r["program"], r["time_ratio"]) for r in mine
            if r.get("time_ratio", 0) > 1.0]
    worst = max((r for r in mine if "time_ratio" in r), key=lambda r: r["time_ratio"])
    add("no real program slower than on glibc", not slow and n == tot,
        ("slower: " + ", ".join(slow)) if slow else
        "slowest %s %.3fx%s" % (worst["program"], worst["time_ratio"], cov))
    rg = s["real_geomean_rss_ratio"]
    add("real programs peak RSS geomean <= glibc", rg <= 1.0 and n == tot,
        "%.3f%s" % (rg, cov))
    big = ["%s %.3fx" % (r["program"], r["rss_ratio"]) for r in mine
           if r.get("rss_ratio", 0) > TARGET_REAL_RSS_MAX]
    worst = max((r for r in mine if "rss_ratio" in r), key=lambda r: r["rss_ratio"])
    add("no real program peak RSS above %.2fx glibc" % TARGET_REAL_RSS_MAX,
        not big and n == tot, ("above: " + ", ".join(big)) if big else
        "largest %s %.3fx%s" % (worst["program"], worst["rss_ratio"], cov))
    return t


def tables(allocs, rows, summ):
    """(header, rows) of the time table and of the peak RSS table."""
    by = {(r["program"], r["allocator"]): r for r in rows}
    progs = []
    for r in rows:
        if r["program"] not in progs:
            progs.append(r["program"])
    out = []
    for key, absolute, unit, gm in (("time_ratio", "median_secs", "%.3f s", "real_geomean_time_ratio"),
                                     ("rss_ratio", "median_rss_kb", "%.1f MiB", "real_geomean_rss_ratio")):
        body = []
        for p in progs:
            line = [p]
            if key == "time_ratio":
                sp = [by[(p, a)]["spread"] for a in allocs if "spread" in by.get((p, a), {})]
                line.append("%.0f%%" % (100 * max(sp)) if sp else "–")
            for a in allocs:
                r = by.get((p, a), {})
                if absolute not in r:
                    line.append("FAILED" if r else "–")
                elif a == "glibc":
                    v = r[absolute] / (1024.0 if key == "rss_ratio" else 1.0)
                    line.append(unit % v)
                else:
                    line.append("%.3f" % r[key])
            body.append(line)
        body.append(["geomean"] + ([""] if key == "time_ratio" else []) +
                    ["1" if a == "glibc" else
                                   ("%.3f" % summ[a][gm] if summ[a][gm] else "–")
                                   for a in allocs])
        out.append((["program"] + (["spread"] if key == "time_ratio" else []) +
                    ["%s%s" % (a, " (absolute)" if a == "glibc" else "") for a in allocs],
                    body))
    return out


def report_lines(allocs, rows, summ, md_table):
    if not rows:
        return []
    (th, tr), (rh, rr) = tables(allocs, rows, summ)
    L = ["## Real programs", "",
         "The same deterministic work under every allocator, each program's output (stdout of "
         "every step, and gcc's object file) checked against glibc's; a tiny run with "
         "LD_DEBUG=bindings first proves that every process started (cc1, as, git's helpers) "
         "bound malloc and free to the preloaded allocator. Time is wall clock summed over the "
         "program's steps; peak RSS is the largest `/usr/bin/time -f %M` of the steps "
         "(children included). Medians over the rounds; ratios to glibc in the same run; "
         "spread is the largest (max - min) / median of a program's time over the "
         "allocators.", ""]
    progs = []
    for r in rows:
        if r["program"] not in progs:
            progs.append(r["program"])
            L.append("- **%s**: %s" % (r["program"], r["what"]))
    L += ["", "Time, x glibc:", "", md_table(th, tr), "", "Peak RSS, x glibc:", "",
          md_table(rh, rr), ""]
    bad = ["%s under %s: %s" % (r["program"], r["allocator"], r["error"])
           for r in rows if "error" in r]
    if bad:
        L += ["Failures (not counted in the geometric means):", ""] + ["- " + b for b in bad] + [""]
    return L


# --------------------------------------------------------------------------
# On its own: the smoke test

def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny size, one round (default)")
    ap.add_argument("--size", choices=sorted(SIZES), default="smoke")
    ap.add_argument("--pmalloc", default=os.environ.get("PMALLOC_LIB"),
                    help="libpmalloc.so (default $PMALLOC_LIB); glibc alone without it")
    args = ap.parse_args()
    allocs = {"glibc": {"preload": ""}}
    if args.pmalloc:
        if not os.path.exists(args.pmalloc):
            sys.exit("real_programs.py: %s not found" % args.pmalloc)
        allocs["pmalloc"] = {"preload": os.path.abspath(args.pmalloc)}
    notes = []
    rows = run_real(allocs, args.size, 1, notes)
    for n in notes:
        print("note: " + n)
    fail = 0
    for r in rows:
        if "error" in r:
            fail = 1
            print("FAIL [%s] %s: %s" % (r["allocator"], r["program"], r["error"]))
        else:
            print("ok   [%s] %s: %.3f s, %d KiB, output %s, preload %s" % (
                r["allocator"], r["program"], r["median_secs"], r["median_rss_kb"],
                r["runs"][0]["digest"], r["preload_check"]))
    return fail


if __name__ == "__main__":
    sys.exit(main())
