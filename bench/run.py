#!/usr/bin/env python3
"""Runs every pmalloc benchmark under pmalloc and the peer allocators.

One run measures, on the same binaries and interleaved (A B C D E, then
rotated each round so no allocator always goes first):

  * macro workloads (bench/macro_*): median time, ratio to glibc, peak RSS
    (/usr/bin/time -f %M), throughput scaling from 1 to 2 threads;
  * micro cases (bench/pm_micro, google-benchmark): time per iteration;
  * instructions per allocator call (callgrind on bench/instr_count),
    which is exact and repeatable, so it is run once;
  * RSS over time (bench/macro_rss, issue #11; see rss_timeline.py).
  * real programs (bench/real_programs.py): CPython, sqlite3, perl, gcc
    and git, output checked against glibc's, median time and peak RSS.

Writes RESULTS.md, results.json and PNG plots (gnuplot) to the output
directory and prints the summary table.  Only the standard library is used.

    bench/run.py [--quick] [--rounds N] [--allocators pmalloc,glibc,...]
                 [--pmalloc PATH] [--bindir DIR] [--out DIR]
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import rss_timeline
import variant_cost
import real_programs

HERE = os.path.dirname(os.path.abspath(__file__))

LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/usr/lib", "/usr/local/lib"]

# name -> (shared object to preload, Debian package that provides it)
PEERS = {
    "glibc": (None, None),
    "jemalloc": ("libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc2.0"),
}
ALL_ALLOCATORS = ["pmalloc", "glibc", "jemalloc", "tcmalloc", "mimalloc"]

# (workload, threads, scale): the full run and the --quick smoke run.
# Work per thread is fixed, so throughput (ops/s) is comparable across
# thread counts; time is compared between allocators at one thread count.
MACRO_FULL = [
    ("larson", 1, 60), ("larson", 2, 60), ("larson", 4, 60), ("larson", 8, 60),
    ("xmalloc", 1, 40), ("xmalloc", 2, 40), ("xmalloc", 4, 40),
    ("scratch", 1, 100), ("scratch", 2, 100), ("scratch", 4, 100),
    ("churn", 1, 2),
    ("large", 1, 8), ("large", 2, 8),
]
MACRO_QUICK = [
    ("larson", 1, 5), ("larson", 2, 5),
    ("xmalloc", 1, 4), ("xmalloc", 2, 4),
    ("scratch", 1, 10), ("scratch", 2, 10),
    ("churn", 1, 1),
    ("large", 1, 1), ("large", 2, 1),
]
INSTR_CASES = ["pair16", "pair64", "pair512", "pair4k", "pair256k", "batch", "batch4k", "mixed",
               "realloc", "calloc64"]
# Cases whose iterations cost far more under callgrind run N / divisor of
# them: a realloc iteration is about 50 calls, with copies of up to 1 MiB
# for allocators that move the block, and a 256 KiB pair is a system call
# per call for some allocators.
INSTR_DIVISOR = {"pair256k": 20, "realloc": 200}

# One colour per allocator in every plot.
COLORS = {"pmalloc": "#d62728", "glibc": "#8c8c8c", "jemalloc": "#2ca02c",
          "tcmalloc": "#1f77b4", "mimalloc": "#ff9f0e"}

TARGET_INSTR_PAIR = 30.0
# Instructions per call, at most (issue #10).
INSTR_TARGETS = [("pair16", TARGET_INSTR_PAIR), ("pair64", TARGET_INSTR_PAIR),
                 ("pair512", TARGET_INSTR_PAIR), ("pair4k", 40.0), ("pair256k", 60.0),
                 ("mixed", 36.0), ("realloc", 100.0), ("calloc64", 40.0)]
TARGET_MACRO_GEOMEAN = 0.8
TARGET_SCALING = 1.8


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_quiet(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def median(xs):
    return statistics.median(xs) if xs else None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def fmt(x, spec=".3f", none="–"):
    return none if x is None else format(x, spec)


# --------------------------------------------------------------------------
# Allocators

def find_lib(soname):
    for d in LIB_DIRS:
        p = os.path.join(d, soname)
        if os.path.exists(p):
            return p
    return None


def pkg_version(pkg):
    return run_quiet(["dpkg-query", "-W", "-f", "${Version}", pkg]) or None


def apt_install(pkg, why):
    """Installs a Debian package when running as root; False when it
    cannot try."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log("installing %s for %s" % (pkg, why))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-q", pkg], env=env,
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env,
                       capture_output=True, check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", pkg], env=env,
                       capture_output=True, check=False)
    return True


def resolve_allocators(names, pmalloc_path, notes):
    """Returns an ordered dict name -> {path, version}; missing peers are
    installed with apt-get when root, otherwise skipped with a note."""
    out = {}
    for name in names:
        if name == "pmalloc":
            if pmalloc_path and os.path.exists(pmalloc_path):
                out[name] = {"preload": os.path.abspath(pmalloc_path),
                             "version": "working tree"}
            else:
                notes.append("pmalloc: %s not found (build the library first); skipped"
                             % pmalloc_path)
            continue
        if name not in PEERS:
            notes.append("unknown allocator %r skipped" % name)
            continue
        soname, pkg = PEERS[name]
        if soname is None:
            out[name] = {"preload": "",
                         "version": run_quiet(["ldd", "--version"]).splitlines()[0]
                         if run_quiet(["ldd", "--version"]) else None}
            continue
        path = find_lib(soname)
        if not path and apt_install(pkg, name):
            path = find_lib(soname)
        if not path:
            notes.append("%s: %s not installed (apt-get install %s as root); skipped"
                         % (name, soname, pkg))
            continue
        out[name] = {"preload": path, "version": pkg_version(pkg)}
    return out


def alloc_env(preload):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = preload
    return env


def preload_ok(stderr):
    return "cannot be preloaded" not in stderr and "ld.so:" not in stderr


# --------------------------------------------------------------------------
# Machine

def machine_info():
    lscpu = run_quiet(["lscpu"])
    fields = {}
    for line in lscpu.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass
    cpu = fields.get("Model name", platform.processor() or "unknown CPU")
    ncpu = fields.get("CPU(s)", str(os.cpu_count()))
    hyp = fields.get("Hypervisor vendor")
    uname = " ".join([platform.system(), platform.release(), platform.machine()])
    desc = "%s, %s CPUs%s, %s RAM, %s" % (cpu, ncpu,
                                         " (%s guest)" % hyp if hyp else "",
                                         mem, uname)
    return {
        "description": desc,
        "cpu": cpu, "cpus": ncpu, "hypervisor": hyp, "memory": mem,
        "uname": run_quiet(["uname", "-a"]),
        "glibc": (run_quiet(["ldd", "--version"]).splitlines() or [""])[0],
        "loadavg_at_start": (open("/proc/loadavg").read().split()[:3]
                             if os.path.exists("/proc/loadavg") else None),
        "lscpu": {k: fields[k] for k in ("Model name", "CPU(s)", "Thread(s) per core",
                                         "L1d cache", "L2 cache", "L3 cache",
                                         "Hypervisor vendor") if k in fields},
    }


# --------------------------------------------------------------------------
# Macro workloads

def parse_result(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return None


def run_macro_once(bindir, workload, threads, scale, preload, timeout, extra_env=()):
    """extra_env: NAME=VALUE settings for this run only."""
    prog = os.path.join(bindir, "macro_" + workload)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name, "env"]
        if preload:
            cmd.append("LD_PRELOAD=" + preload)
        cmd += list(extra_env)
        cmd += [prog, str(threads), str(scale)]
        env = alloc_env(None)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                               timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": "timeout after %ds" % timeout}
        res = parse_result(r.stdout)
        if not preload_ok(r.stderr):
            return {"ok": False, "error": "preload failed: " + r.stderr.strip()[:200]}
        if r.returncode != 0 or not res or res.get("check") != "ok":
            err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
            return {"ok": False, "error": "exit %d: %s" % (r.returncode, err[:200])}
        wall, rss, cpu = None, None, None
        try:
            parts = tf.read().split()
            wall, rss = float(parts[-4]), int(parts[-3])
            cpu = float(parts[-2]) + float(parts[-1])
        except (ValueError, IndexError):
            rss = int(res.get("maxrss_kb", 0)) or None
        out = {"ok": True, "secs": float(res["secs"]), "ops": int(res["ops"]),
               "wall": wall, "cpu": cpu, "rss_kb": rss}
        if "peak_live_kb" in res:
            out["peak_live_kb"] = int(res["peak_live_kb"])
        if "minflt" in res:
            out["minflt"] = int(res["minflt"])
        return out


def run_macros(bindir, allocs, configs, rounds, timeout):
    names = list(allocs)
    runs = {}   # (workload, threads, alloc) -> list of run dicts
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for (w, t, s) in configs:
            for a in order:
                r = run_macro_once(bindir, w, t, s, allocs[a]["preload"], timeout)
                runs.setdefault((w, t, a), []).append(r)
                status = ("%.3fs %s KiB" % (r["secs"], r["rss_kb"])) if r["ok"] \
                    else "FAILED " + r["error"]
                log("round %d/%d  %-8s t=%d  %-9s %s" % (rnd + 1, rounds, w, t, a, status))
    rows = []
    for (w, t, s) in configs:
        for a in names:
            rs = runs.get((w, t, a), [])
            good = [r for r in rs if r["ok"]]
            row = {"workload": w, "threads": t, "scale": s, "allocator": a,
                   "runs": rs, "failures": len(rs) - len(good)}
            if good and not row["failures"]:
                row["median_secs"] = median([r["secs"] for r in good])
                row["median_rss_kb"] = median([r["rss_kb"] for r in good if r["rss_kb"]])
                ts = [r["secs"] for r in good]
                row["spread"] = (max(ts) - min(ts)) / row["median_secs"] if len(ts) > 1 else 0.0
                row["median_cpu_secs"] = median([r["cpu"] for r in good if r["cpu"] is not None])
                row["ops"] = good[0]["ops"]
                row["ops_per_sec"] = row["ops"] / row["median_secs"]
                if "peak_live_kb" in good[0]:
                    row["peak_live_kb"] = good[0]["peak_live_kb"]
                    row["fragmentation"] = row["median_rss_kb"] / good[0]["peak_live_kb"]
            else:
                row["error"] = next((r["error"] for r in rs if not r["ok"]), "not run")
            rows.append(row)
    by = {(r["workload"], r["threads"], r["allocator"]): r for r in rows}
    for r in rows:
        g = by.get((r["workload"], r["threads"], "glibc"))
        if g and "median_secs" in g and "median_secs" in r:
            r["time_ratio"] = r["median_secs"] / g["median_secs"]
            if g.get("median_cpu_secs") and r.get("median_cpu_secs"):
                r["cpu_ratio"] = r["median_cpu_secs"] / g["median_cpu_secs"]
            if g.get("median_rss_kb") and r.get("median_rss_kb"):
                r["rss_ratio"] = r["median_rss_kb"] / g["median_rss_kb"]
    return rows


# --------------------------------------------------------------------------
# Micro benchmarks

def run_micro(bindir, allocs, rounds, min_time, timeout, notes):
    prog = os.path.join(bindir, "pm_micro")
    if not os.access(prog, os.X_OK):
        notes.append("micro: %s not built (google-benchmark missing?); skipped" % prog)
        return []
    names = list(allocs)
    samples = {}   # (case, alloc) -> [ns per iteration]
    failed = {}
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for a in order:
            cmd = [prog, "--benchmark_format=json",
                   "--benchmark_min_time=%g" % min_time]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True,
                                   env=alloc_env(allocs[a]["preload"]),
                                   timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                failed[a] = "timeout after %ds" % timeout
                log("micro round %d/%d %-9s FAILED timeout" % (rnd + 1, rounds, a))
                continue
            if r.returncode != 0 or not preload_ok(r.stderr):
                failed[a] = "exit %d: %s" % (r.returncode, r.stderr.strip()[-200:])
                log("micro round %d/%d %-9s FAILED %s" % (rnd + 1, rounds, a, failed[a]))
                continue
            try:
                data = json.loads(r.stdout)
            except ValueError:
                failed[a] = "unreadable JSON output"
                continue
            for b in data.get("benchmarks", []):
                if b.get("run_type") == "aggregate" or not b.get("items_per_second"):
                    continue
                name = b["name"].replace("/real_time", "")
                samples.setdefault((name, a), []).append(1e9 / b["items_per_second"])
            log("micro round %d/%d %-9s done" % (rnd + 1, rounds, a))
    cases = []
    for (c, _a) in samples:
        if c not in cases:
            cases.append(c)
    rows = []
    for c in cases:
        g = median(samples.get((c, "glibc"), []))
        for a in names:
            v = median(samples.get((c, a), []))
            row = {"case": c, "allocator": a, "ns_per_iter": v,
                   "samples": samples.get((c, a), [])}
            if v is None:
                row["error"] = failed.get(a, "not run")
            elif g:
                row["ratio"] = v / g
            rows.append(row)
    return rows


# --------------------------------------------------------------------------
# Instruction counts

def callgrind_count(prog, case, n, preload, timeout):
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           prog, case, str(n)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env=alloc_env(preload), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, None, "timeout"
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    c = re.search(r"calls=(\d+)", r.stdout)
    if r.returncode != 0 or not m or not c or not preload_ok(r.stderr):
        return None, None, "exit %d: %s" % (r.returncode, r.stderr.strip()[-200:])
    return int(m.group(1)), int(c.group(1)), None


def run_instr(bindir, allocs, n, timeout, jobs, notes):
    prog = os.path.join(bindir, "instr_count")
    if not shutil.which("valgrind"):
        notes.append("instructions: valgrind not installed; skipped")
        return []
    if not os.access(prog, os.X_OK):
        notes.append("instructions: %s not built; skipped" % prog)
        return []
    ns = {c: max(1, n // INSTR_DIVISOR.get(c, 1)) for c in INSTR_CASES}
    tasks = [(c, a, k) for c in INSTR_CASES for a in allocs for k in (ns[c], 0)]

    def one(t):
        c, a, k = t
        return t, callgrind_count(prog, c, k, allocs[a]["preload"], timeout)

    got = {}
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        for (c, a, k), res in ex.map(one, tasks):
            got[(c, a, k)] = res
    rows = []
    for c in INSTR_CASES:
        for a in allocs:
            big, calls, e1 = got[(c, a, ns[c])]
            small, _, e2 = got[(c, a, 0)]
            row = {"case": c, "allocator": a, "n": ns[c]}
            if e1 or e2 or not calls:
                row["error"] = e1 or e2 or "no calls"
            else:
                row.update(instructions=big, baseline=small, calls=calls,
                           per_call=(big - small) / calls)
            rows.append(row)
            log("instr %-8s %-9s %s" % (c, a, fmt(row.get("per_call"), ".1f")
                                        if "per_call" in row else "FAILED " + row["error"]))
    return rows


# --------------------------------------------------------------------------
# Summary and targets

def summarize(allocs, macro, micro, instr):
    summ = {}
    for a in allocs:
        mr = [r for r in macro if r["allocator"] == a]
        ratios = [r["time_ratio"] for r in mr if "time_ratio" in r]
        rss = [r["rss_ratio"] for r in mr if "rss_ratio" in r]
        mi = [r["ratio"] for r in micro if r["allocator"] == a and "ratio" in r]
        ins = {r["case"]: r.get("per_call") for r in instr if r["allocator"] == a}
        summ[a] = {
            "macro_geomean_time_ratio": geomean(ratios),
            "macro_measured": len(ratios), "macro_total": len(mr),
            "macro_geomean_rss_ratio": geomean(rss),
            "macro_geomean_cpu_ratio": geomean([r["cpu_ratio"] for r in mr
                                                if "cpu_ratio" in r]),
            "micro_geomean_time_ratio": geomean(mi),
            "instr_per_call": ins,
        }
    return summ


def scaling(macro, micro, alloc):
    """Throughput at 2 threads over 1 thread for each threaded workload."""
    out = []
    by = {(r["workload"], r["threads"], r["allocator"]): r for r in macro}
    for w in sorted({r["workload"] for r in macro}):
        one, two = by.get((w, 1, alloc)), by.get((w, 2, alloc))
        if one and two and "ops_per_sec" in one and "ops_per_sec" in two:
            out.append({"workload": w, "ratio": two["ops_per_sec"] / one["ops_per_sec"]})
    mby = {(r["case"], r["allocator"]): r for r in micro}
    for base in sorted({r["case"].rsplit("/threads:", 1)[0] for r in micro
                        if "/threads:" in r["case"]}):
        one = mby.get((base + "/threads:1", alloc))
        two = mby.get((base + "/threads:2", alloc))
        if one and two and one.get("ns_per_iter") and two.get("ns_per_iter"):
            out.append({"workload": "micro " + base,
                        "ratio": one["ns_per_iter"] / two["ns_per_iter"]})
    return out


def evaluate_targets(allocs, macro, micro, instr, summ, real=()):
    t = []
    if "pmalloc" not in allocs:
        return [{"target": "all", "status": "not measured",
                 "detail": "pmalloc was not part of this run"}]

    def add(name, status, detail):
        t.append({"target": name, "status": status, "detail": detail})

    ins = summ["pmalloc"]["instr_per_call"]
    for case, limit in INSTR_TARGETS:
        v = ins.get(case)
        name = "instructions/call %s <= %g" % (case, limit)
        if v is None:
            add(name, "not measured", "no count")
        elif v <= limit:
            add(name, "met", "%.1f, %.1f under" % (v, limit - v))
        else:
            add(name, "missed", "%.1f, %.1f over (%.2fx the target)" % (v, v - limit, v / limit))

    g = summ["pmalloc"]["macro_geomean_time_ratio"]
    name = "macro geomean time <= %.1f x glibc" % TARGET_MACRO_GEOMEAN
    if g is None:
        add(name, "not measured", "no macro ratio")
    else:
        n, tot = summ["pmalloc"]["macro_measured"], summ["pmalloc"]["macro_total"]
        cov = "" if n == tot else " (only %d of %d workloads ran; the rest failed)" % (n, tot)
        add(name, "met" if g <= TARGET_MACRO_GEOMEAN and n == tot else "missed",
            "%.3f, %+.3f against %.1f%s" % (g, g - TARGET_MACRO_GEOMEAN,
                                            TARGET_MACRO_GEOMEAN, cov))
        peers = {a: s["macro_geomean_time_ratio"] for a, s in summ.items()
                 if a not in ("pmalloc", "glibc") and s["macro_geomean_time_ratio"]}
        if peers:
            best = min(peers, key=peers.get)
            b = peers[best]
            add("macro geomean time <= best peer's", "met" if g <= b and n == tot else "missed",
                "%.3f against %s %.3f (%.1f%% %s)" % (g, best, b, abs(g / b - 1) * 100,
                                                     "faster" if g <= b else "slower"))
    sc = scaling(macro, micro, "pmalloc")
    for s in sc:
        name = "2 threads >= %.1fx 1 thread: %s" % (TARGET_SCALING, s["workload"])
        v = s["ratio"]
        add(name, "met" if v >= TARGET_SCALING else "missed",
            "%.2fx, %+.2f against %.1f" % (v, v - TARGET_SCALING, TARGET_SCALING))
    worst = None
    over = []
    for r in macro:
        if r["allocator"] != "pmalloc":
            continue
        if "rss_ratio" not in r:
            over.append("%s/t%d not measured" % (r["workload"], r["threads"]))
            continue
        if worst is None or r["rss_ratio"] > worst[1]:
            worst = ("%s/t%d" % (r["workload"], r["threads"]), r["rss_ratio"])
        if r["rss_ratio"] > 1.0:
            over.append("%s/t%d %.3fx" % (r["workload"], r["threads"], r["rss_ratio"]))
    if worst is not None:
        add("peak RSS <= glibc on every workload", "missed" if over else "met",
            ("worst %s %.3fx glibc" % worst) + ("; above glibc: " + ", ".join(over)
                                                if over else ""))
    t += real_programs.evaluate_targets(allocs, real, summ)
    return t


# --------------------------------------------------------------------------
# Report

def md_table(header, rows, left=(0,)):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i in left else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def text_table(header, rows, left=(0,)):
    cols = [header] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cols) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w[i]) if i in left else c.rjust(w[i])
                       for i, c in enumerate(r)).rstrip() for r in cols]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


def summary_rows(allocs, summ):
    rows = []
    for a in allocs:
        s = summ[a]
        ins = s["instr_per_call"]
        rows.append([a, fmt(s["macro_geomean_time_ratio"]) +
                     ("" if s["macro_measured"] == s["macro_total"]
                      else " (%d/%d)" % (s["macro_measured"], s["macro_total"])),
                     fmt(s["macro_geomean_cpu_ratio"]),
                     fmt(s["macro_geomean_rss_ratio"], ".2f"),
                     fmt(s["micro_geomean_time_ratio"]),
                     fmt(ins.get("pair16"), ".1f"), fmt(ins.get("pair64"), ".1f"),
                     fmt(ins.get("batch"), ".1f"), fmt(ins.get("mixed"), ".1f")])
    return rows


SUMMARY_HEADER = ["allocator", "macro time (geomean, x glibc)",
                  "macro CPU time (geomean, x glibc)", "peak RSS (geomean, x glibc)",
                  "micro time (geomean, x glibc)", "instr/call pair16", "pair64",
                  "batch", "mixed"]


def macro_rows(allocs, macro):
    rows = []
    for r in macro:
        name = "%s t=%d" % (r["workload"], r["threads"])
        if "median_secs" not in r:
            rows.append([name, r["allocator"], "FAILED", "", "", "", "", "", r.get("error", "")[:60]])
            continue
        extra = ""
        if "fragmentation" in r:
            extra = "RSS/live %.2f" % r["fragmentation"]
        rows.append([name, r["allocator"], "%.4f" % r["median_secs"],
                     "%.0f%%" % (100 * r.get("spread", 0)),
                     fmt(r.get("time_ratio")), fmt(r.get("median_cpu_secs"), ".2f"),
                     "%.1f" % (r["median_rss_kb"] / 1024) if r.get("median_rss_kb") else "–",
                     fmt(r.get("rss_ratio"), ".2f"), extra])
    return rows


MACRO_HEADER = ["workload", "allocator", "median s", "spread", "time x glibc", "CPU s (process)",
                "peak RSS MiB", "RSS x glibc", "note"]


def micro_table(allocs, micro):
    cases = []
    for r in micro:
        if r["case"] not in cases:
            cases.append(r["case"])
    by = {(r["case"], r["allocator"]): r for r in micro}
    rows = []
    for c in cases:
        row = [c]
        for a in allocs:
            r = by.get((c, a))
            if not r or r.get("ns_per_iter") is None:
                row.append("–")
            elif a == "glibc":
                row.append("%.1f ns" % r["ns_per_iter"])
            else:
                row.append("%.1f ns (%s)" % (r["ns_per_iter"], fmt(r.get("ratio"), ".2f")))
        rows.append(row)
    return ["case"] + list(allocs), rows


def instr_table(allocs, instr):
    by = {(r["case"], r["allocator"]): r for r in instr}
    rows = []
    for c in INSTR_CASES:
        rows.append([c] + [fmt(by[(c, a)].get("per_call"), ".1f", "FAILED")
                           if (c, a) in by else "–" for a in allocs])
    return ["case"] + list(allocs), rows


def write_plots(outdir, allocs, macro, micro, instr, title, notes):
    gp = shutil.which("gnuplot")
    if not gp:
        notes.append("plots: gnuplot not installed; none drawn")
        return []
    r = subprocess.run([gp, "-e", "set terminal"], capture_output=True, text=True,
                       check=False)
    term = "pngcairo" if "pngcairo" in r.stdout + r.stderr else "png"
    names = list(allocs)
    made = []
    tmp = tempfile.mkdtemp(prefix="pmbench-")

    def histogram(fname, ylabel, labels, values, logscale=False, ref=None):
        dat = os.path.join(tmp, fname + ".dat")
        with open(dat, "w") as f:
            f.write("label " + " ".join(names) + "\n")
            for lab, vals in zip(labels, values):
                f.write(lab.replace(" ", "_") + " " +
                        " ".join("%.6g" % v if v is not None else "NaN" for v in vals) + "\n")
        png = os.path.join(outdir, fname + ".png")
        script = [
            "set terminal %s size 1280,640 %s" % (term, "font 'sans,10'" if term == "pngcairo" else ""),
            "set bmargin 9",
            "set rmargin 6",
            "set output '%s'" % png,
            "set title \"%s\" noenhanced" % title.replace('"', "'"),
            "set ylabel '%s'" % ylabel,
            "set style data histograms",
            "set style histogram clustered gap 1",
            "set style fill solid 0.85 border -1",
            "set boxwidth 0.9",
            "set xtics rotate by -40 noenhanced",
            "set key top left noenhanced",
            "set grid ytics",
            "set datafile missing 'NaN'",
            "set yrange [0:*]" if not logscale else "set logscale y",
        ]
        plots = ["'%s' using %d:xtic(1) title columnheader(%d) lc rgb '%s'"
                 % (dat, i + 2, i + 2, COLORS.get(a, "#777777"))
                 for i, a in enumerate(names)]
        if ref is not None:
            plots.append("%g with lines lc rgb 'black' dt 2 title '%s'" % ref)
        script.append("plot " + ", ".join(plots))
        r = subprocess.run([gp], input="\n".join(script) + "\n", capture_output=True,
                           text=True, check=False)
        if r.returncode == 0 and os.path.exists(png):
            made.append(os.path.basename(png))
        else:
            notes.append("plot %s failed: %s" % (fname, r.stderr.strip()[:200]))

    by = {(r["workload"], r["threads"], r["allocator"]): r for r in macro}
    keys = []
    for r in macro:
        k = (r["workload"], r["threads"])
        if k not in keys:
            keys.append(k)
    if keys:
        labels = ["%s t%d" % k for k in keys]
        histogram("macro_time", "median time / glibc (lower is better)", labels,
                  [[by.get(k + (a,), {}).get("time_ratio") for a in names] for k in keys],
                  ref=(1.0, "= glibc"))
        histogram("macro_rss", "peak RSS / glibc (lower is better)", labels,
                  [[by.get(k + (a,), {}).get("rss_ratio") for a in names] for k in keys],
                  ref=(1.0, "= glibc"))
    if instr:
        iby = {(r["case"], r["allocator"]): r for r in instr}
        histogram("instructions", "instructions per malloc or free call", INSTR_CASES,
                  [[iby.get((c, a), {}).get("per_call") for a in names] for c in INSTR_CASES],
                  ref=(TARGET_INSTR_PAIR, "target 30 (pairs)"))
    if micro:
        cases = []
        for r in micro:
            if r["case"] not in cases:
                cases.append(r["case"])
        mby = {(r["case"], r["allocator"]): r for r in micro}
        short = [c.replace("threads/", "").replace("/threads:", " t") for c in cases]
        histogram("micro_time", "time per iteration / glibc (log scale, lower is better)",
                  short, [[mby.get((c, a), {}).get("ratio") for a in names] for c in cases],
                  logscale=True, ref=(1.0, "= glibc"))
    shutil.rmtree(tmp, ignore_errors=True)
    return made


def write_report(outdir, meta, allocs, macro, micro, instr, summ, targets, plots, notes,
                 real=(), prof=(), checks=(), decay=()):
    L = []
    L.append("# pmalloc against glibc, jemalloc, tcmalloc and mimalloc")
    L.append("")
    L.append("Measured %s on %s." % (meta["date"], meta["machine"]["description"]))
    L.append("Load average at start: %s, at the end: %s (the machine has %s CPUs; above "
             "that, other work competes for them and times get noisy: see the spread "
             "column, (max - min) / median over the rounds). Command: `%s`." %
             (" ".join(meta["machine"]["loadavg_at_start"] or []),
              " ".join(meta["machine"].get("loadavg_at_end") or []),
              meta["machine"]["cpus"], meta["command"]))
    L.append("")
    L.append("%d round(s), allocators interleaved and rotated each round; times are medians. "
             "Ratios are to glibc in the same run (below 1 is faster / smaller). Peak RSS is "
             "`/usr/bin/time -f %%M`. Instructions per call are callgrind counts, "
             "(count(N) - count(0)) / (mallocs + frees), loop overhead included (about 2 "
             "instructions per call)." % meta["rounds"])
    L.append("")
    L.append("Allocators: " + "; ".join("%s (%s)" % (a, allocs[a]["version"] or "?")
                                         for a in allocs) + ".")
    L.append("")
    if notes:
        L.append("Notes:")
        L += ["- " + n for n in notes]
        L.append("")
    L.append("## Summary")
    L.append("")
    L.append(md_table(SUMMARY_HEADER, summary_rows(allocs, summ)))
    L.append("")
    L.append("## Targets (pmalloc)")
    L.append("")
    L.append(md_table(["target", "status", "by how much"],
                      [[t["target"], "**%s**" % t["status"], t["detail"]] for t in targets],
                      left=(0, 1, 2)))
    L.append("")
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ANALYSIS.md")
    if os.path.exists(analysis):
        L.append("### Where the misses come from")
        L.append("")
        with open(analysis) as f:
            L.append(f.read().strip())
        L.append("")
    for p in plots:
        L.append("![%s](%s)" % (p[:-4], p))
        L.append("")
    L.append("## Macro workloads")
    L.append("")
    L.append("Work per thread is fixed, so more threads do more work; compare allocators "
             "within a row group, and thread counts through throughput (scaling below).")
    L.append("")
    L.append(md_table(MACRO_HEADER, macro_rows(allocs, macro), left=(0, 1, 8)))
    L.append("")
    L.append("### Throughput at 2 threads over 1 thread")
    L.append("")
    sc = {a: {s["workload"]: s["ratio"] for s in scaling(macro, micro, a)} for a in allocs}
    wl = []
    for a in allocs:
        for w in sc[a]:
            if w not in wl:
                wl.append(w)
    L.append(md_table(["workload"] + list(allocs),
                      [[w] + [fmt(sc[a].get(w), ".2f") for a in allocs] for w in wl]))
    L.append("")
    L += real_programs.report_lines(allocs, real, summ, md_table)
    L += variant_cost.report_lines("prof", prof, md_table, fmt)
    L += variant_cost.report_lines("checks", checks, md_table, fmt, real)
    L += variant_cost.report_lines("decay", decay, md_table, fmt, real)
    if micro:
        h, rows = micro_table(allocs, micro)
        L.append("## Micro benchmarks (google-benchmark)")
        L.append("")
        L.append("Time per iteration (one malloc/free pair, one block of a batch, one realloc "
                 "growth 16 B to 1 MiB, ...); threaded cases: per iteration across all "
                 "threads, wall clock. Ratio to glibc in parentheses.")
        L.append("")
        L.append(md_table(h, rows))
        L.append("")
    if instr:
        h, rows = instr_table(allocs, instr)
        L.append("## Instructions per call (callgrind, N = %d iterations; %s)" % (
            instr[0]["n"], ", ".join("%s: N / %d" % kv for kv in INSTR_DIVISOR.items())))
        L.append("")
        L.append(md_table(h, rows))
        L.append("")
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(L))
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "allocators": allocs, "notes": notes,
                   "summary": summ, "targets": targets, "macro": macro,
                   "micro": micro, "instructions": instr, "real": list(real),
                   "prof_cost": list(prof), "checks_cost": list(checks),
                   "decay_cost": list(decay),
                   "plots": plots},
                  f, indent=1, sort_keys=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="short run with small sizes, one round (a smoke test)")
    ap.add_argument("--rounds", type=int, help="rounds (default 3; 1 with --quick)")
    ap.add_argument("--allocators", default=",".join(ALL_ALLOCATORS),
                    help="comma-separated subset of " + ",".join(ALL_ALLOCATORS))
    ap.add_argument("--pmalloc", help="libpmalloc.so to test "
                    "(default: $PMALLOC_LIB, else BINDIR/../.libs/libpmalloc.so)")
    ap.add_argument("--pmalloc-version", default=None,
                    help="how to describe the pmalloc build in the report "
                    "(default: git describe of this tree)")
    ap.add_argument("--bindir", default=HERE, help="directory holding the built "
                    "benchmark programs (default: this script's directory)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"),
                    help="where RESULTS.md, results.json and plots go")
    ap.add_argument("--skip", default="",
                    help="comma-separated: macro,micro,instr,real,rss,prof,checks,decay,plots")
    ap.add_argument("--jobs", type=int, default=2, help="parallel callgrind runs")
    ap.add_argument("--variant-rounds", type=int, default=variant_cost.ROUNDS,
                    help="rounds of each variant's back-to-back runs (default %(default)s; "
                    "1 with --quick): more when the machine is noisy")
    args = ap.parse_args()

    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    skip = set(filter(None, args.skip.split(",")))
    pm = args.pmalloc or os.environ.get("PMALLOC_LIB") or \
        os.path.join(args.bindir, "..", ".libs", "libpmalloc.so")
    notes = []
    if not os.path.exists("/usr/bin/time"):
        sys.exit("run.py: /usr/bin/time is missing (apt-get install time)")
    for p in ("macro_larson", "instr_count"):
        if not os.access(os.path.join(args.bindir, p), os.X_OK):
            sys.exit("run.py: %s/%s not built; run `make` (or pass --bindir)" % (args.bindir, p))

    names = [a.strip() for a in args.allocators.split(",") if a.strip()]
    if "glibc" not in names:
        names.insert(0, "glibc")
        notes.append("glibc added: every ratio is to glibc")
    allocs = resolve_allocators(names, pm, notes)
    if "plots" not in skip and not shutil.which("gnuplot"):
        apt_install("gnuplot-nox", "the plots")
    if "pmalloc" in allocs:
        allocs["pmalloc"]["version"] = args.pmalloc_version or "git " + (run_quiet(
            ["git", "-C", os.path.dirname(HERE), "describe", "--always", "--dirty"])
            or "?")
    for n in notes:
        log("note: " + n)

    os.makedirs(args.out, exist_ok=True)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "rounds": rounds, "quick": quick,
        "command": " ".join(["bench/run.py"] + sys.argv[1:]),
        "macro_configs": MACRO_QUICK if quick else MACRO_FULL,
    }
    macro = [] if "macro" in skip else run_macros(
        args.bindir, allocs, MACRO_QUICK if quick else MACRO_FULL, rounds,
        60 if quick else 300)
    micro = [] if "micro" in skip else run_micro(
        args.bindir, allocs, rounds, 0.005 if quick else 0.1, 300 if quick else 900, notes)
    instr = [] if "instr" in skip else run_instr(
        args.bindir, allocs, 20000 if quick else 200000, 600, args.jobs, notes)
    rss = {} if "rss" in skip else rss_timeline.run(args.bindir, allocs, quick, notes,
                                                    alloc_env, preload_ok, log)
    prof = [] if "prof" in skip else variant_cost.run(
        "prof", args.bindir, allocs, MACRO_QUICK if quick else MACRO_FULL,
        1 if quick else args.variant_rounds, 60 if quick else 300, run_macro_once, log)
    checks = [] if "checks" in skip else variant_cost.run(
        "checks", args.bindir, allocs, MACRO_QUICK if quick else MACRO_FULL,
        1 if quick else args.variant_rounds, 60 if quick else 300, run_macro_once, log)
    decay = [] if "decay" in skip else variant_cost.run(
        "decay", args.bindir, allocs, MACRO_QUICK if quick else MACRO_FULL,
        1 if quick else args.variant_rounds, 60 if quick else 300, run_macro_once, log)
    if "checks" not in skip and not checks and "pmalloc" in allocs:
        notes.append("checks: libpmalloc_nochecks.so not found next to libpmalloc.so "
                     "(make bench builds it); the integrity checks' cost is not measured")
    # the base sides of the checks and the decay run the real programs
    # too, for their cost there; the peer tables and targets read only
    # `allocs`
    real_allocs = dict(allocs, **variant_cost.real_allocators(
        [k for k in ("checks", "decay") if k not in skip], allocs))
    real = [] if "real" in skip else real_programs.run_real(
        real_allocs, "quick" if quick else "full", rounds, notes, preload_ok,
        120 if quick else 600)

    if os.path.exists("/proc/loadavg"):
        meta["machine"]["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
        busy = max(float(meta["machine"]["loadavg_at_start"][0]),
                   float(meta["machine"]["loadavg_at_end"][0]))
        if busy > 0.5 * (os.cpu_count() or 1):
            notes.append("the machine was busy (load average up to %.1f on %d CPUs): times "
                         "are noisy, and with fewer free cores than threads the 2-thread "
                         "scaling targets cannot be met by any allocator; instruction "
                         "counts and peak RSS are not affected" % (busy, os.cpu_count() or 1))
    summ = summarize(allocs, macro, micro, instr)
    for a, extra in real_programs.summarize(allocs, real).items():
        summ[a].update(extra)
    targets = evaluate_targets(allocs, macro, micro, instr, summ, real) + \
        variant_cost.evaluate_targets("prof", prof) + \
        variant_cost.evaluate_targets("checks", checks, real) + \
        variant_cost.evaluate_targets("decay", decay, real)
    targets += rss_timeline.targets(rss, macro, allocs)
    title = "pmalloc vs peers, %s, %s" % (meta["date"], meta["machine"]["description"])
    plots = [] if "plots" in skip else write_plots(args.out, allocs, macro, micro, instr,
                                                   title, notes)
    rss_plots = [] if "plots" in skip else rss_timeline.write_plots(args.out, allocs, rss,
                                                                    title, COLORS, notes)
    write_report(args.out, meta, allocs, macro, micro, instr, summ, targets, plots, notes,
                 real, prof, checks, decay)
    rss_timeline.add_to_report(args.out, allocs, rss, macro, rss_plots)

    print()
    print("Machine: %s (%s)" % (meta["machine"]["description"], meta["date"]))
    print()
    if macro:
        print(text_table(MACRO_HEADER, macro_rows(allocs, macro), left=(0, 1, 8)))
        print()
    print(text_table(SUMMARY_HEADER, summary_rows(allocs, summ)))
    print()
    for what, (h, rows) in zip(("time", "peak RSS"), real_programs.tables(allocs, real, summ)
                               if real else ()):
        print("Real programs, %s x glibc:" % what)
        print(text_table(h, rows))
        print()
    print(text_table(["target (pmalloc)", "status", "by how much"],
                     [[t["target"], t["status"], t["detail"]] for t in targets],
                     left=(0, 1, 2)))
    print()
    print(rss_timeline.summary(allocs, rss, macro))
    for n in notes:
        print("note: " + n)
    print()
    print("Wrote %s/RESULTS.md, results.json%s" % (args.out, "".join(", " + p for p in
                                                                  plots + rss_plots)))
    failed = (any(r.get("failures") for r in macro) or rss_timeline.failed(rss) or
              any("error" in r for r in real))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
