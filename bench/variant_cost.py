"""What a pmalloc variant costs against pmalloc itself, in the same run:
every macro workload under the two, back to back.

Three variants are measured:
- "prof": the allocation profile (issue #13, item 4), PMALLOC_PROF=1 at
  the default sampling rate against the same library with it off; at
  most 3% slower;
- "checks": the integrity checks of issue #15 (chunk state, list-link
  ranges, the fast-bin canary, the size tag), the library against
  libpmalloc_nochecks.so, built from the same tree with them compiled
  out (PM_CHUNK_CHECKS=0); at most 2% slower, on the macro workloads and
  on the real programs;
- "decay": free memory going back by itself (issue #11: the decay of free
  pages and the idle return), PMALLOC_DECAY_MS at its default against the
  same library with PMALLOC_DECAY_MS=-1; at most 2% slower on the macro
  workloads and on the real programs, and at most 10% more page faults on
  the large-block one.

For the real programs the base side of "checks" and "decay" runs as one
more allocator among the peers (real_allocators()), interleaved with
them; real_ratio() reads its rows against pmalloc's.

The two runs of a workload go back to back (their order alternating each
round), so the machine's drift between them is small; the macro workloads
take well under a second each, so more rounds are run than for the peer
comparison: a ratio is resolved to about 2-3% only past a dozen rounds on
a shared 2-core machine.  A cost is the geometric mean, over the
workloads, of the ratio of median times (variant / base)."""

import os
import statistics

ROUNDS = 15
# The base sides of the variants measured on the real programs too, as
# they are named among the allocators there.
REAL_BASE = {"checks": "pmalloc-nochecks", "decay": "pmalloc-nodecay"}

VARIANTS = {
    "prof": {"target": 1.03, "title": "the allocation profile (PMALLOC_PROF=1)",
             "what": "pmalloc with the profile on at the default rate against the same "
                     "library with it off",
             "base_label": "off", "test_label": "on"},
    "checks": {"target": 1.02, "title": "the integrity checks (issue #15)",
               "what": "pmalloc against the same tree with the chunk state, link and canary "
                       "checks compiled out (libpmalloc_nochecks.so)",
               "base_label": "compiled out", "test_label": "checks"},
    "decay": {"target": 1.02, "title": "the return of free memory (issue #11)",
              "what": "pmalloc with free memory going back by itself (PMALLOC_DECAY_MS at its "
                      "default) against the same library with it off (PMALLOC_DECAY_MS=-1)",
              "base_label": "return off", "test_label": "return on",
              "faults": ("large", 1.10), "env": {"PMALLOC_DECAY_MS": "-1"}},
}


def sides(key, allocs):
    """(base, test) as (preload, extra environment), or None when the
    variant cannot be run."""
    if "pmalloc" not in allocs:
        return None
    lib = allocs["pmalloc"]["preload"]
    if key == "prof":
        return (lib, ()), (lib, ("PMALLOC_PROF=1",))
    if key == "decay":
        return (lib, tuple("%s=%s" % kv for kv in VARIANTS[key]["env"].items())), (lib, ())
    nochecks = os.path.join(os.path.dirname(lib), "libpmalloc_nochecks.so")
    if not os.path.exists(nochecks):
        return None
    return (nochecks, ()), (lib, ())


def real_allocators(keys, allocs):
    """The base sides of the variants in keys, as extra allocators for the
    real programs: {name: {"preload", "env", "version"}}."""
    out = {}
    for key in keys:
        s = sides(key, allocs) if key in REAL_BASE else None
        if s:
            preload, env = s[0]
            out[REAL_BASE[key]] = {"preload": preload,
                                   "env": dict(e.split("=", 1) for e in env),
                                   "version": "working tree, " + VARIANTS[key]["base_label"]}
    return out


def run(key, bindir, allocs, configs, rounds, timeout, run_once, log):
    s = sides(key, allocs)
    if s is None:
        return []
    rows = []
    for (w, t, sc) in configs:
        times = {False: [], True: []}
        faults = {False: [], True: []}
        errors = []
        for rnd in range(rounds):
            for test in ((False, True) if rnd % 2 == 0 else (True, False)):
                preload, env = s[1] if test else s[0]
                r = run_once(bindir, w, t, sc, preload, timeout, env)
                if r["ok"]:
                    times[test].append(r["secs"])
                    if "minflt" in r:
                        faults[test].append(r["minflt"])
                else:
                    errors.append(r["error"])
        row = {"workload": w, "threads": t, "scale": sc, "rounds": rounds}
        if rounds <= 0:
            row["error"] = "skipped"
        elif errors or not times[False] or not times[True]:
            row["error"] = errors[0] if errors else "not run"
        else:
            row["base_secs"] = statistics.median(times[False])
            row["test_secs"] = statistics.median(times[True])
            row["ratio"] = row["test_secs"] / row["base_secs"]
            if faults[False] and faults[True]:
                row["base_minflt"] = statistics.median(faults[False])
                row["test_minflt"] = statistics.median(faults[True])
        log("%s cost %-8s t=%d  %s" % (key, w, t, "%.3f" % row["ratio"] if "ratio" in row
                                       else "FAILED " + row["error"]))
        rows.append(row)
    return rows


def geomean_ratio(rows):
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    if not ratios or len(ratios) != len(rows):
        return None
    return statistics.geometric_mean(ratios)


def real_ratio(key, real_rows):
    """A variant's cost on the real programs: per program, pmalloc's median
    time over that of the variant's base side."""
    if key not in REAL_BASE:
        return []
    by = {(r["program"], r["allocator"]): r for r in real_rows}
    out = []
    for (p, a), r in by.items():
        n = by.get((p, REAL_BASE[key]))
        if a == "pmalloc" and n and "median_secs" in r and "median_secs" in n:
            out.append({"workload": p, "threads": 0, "ratio": r["median_secs"] / n["median_secs"],
                        "base_secs": n["median_secs"], "test_secs": r["median_secs"]})
    return out


def evaluate_targets(key, rows, real_rows=()):
    if not rows:
        return []
    v = VARIANTS[key]
    out = []
    parts = [("macro", rows)]
    if key in REAL_BASE:
        parts.append(("real-program", real_ratio(key, real_rows)))
    for part, rs in parts:
        name = "%s: %s geomean time <= %.2f x %s" % (v["title"], part, v["target"],
                                                      v["base_label"])
        g = geomean_ratio(rs)
        if g is None and rs and all(r.get("rounds") == 0 for r in rs):
            out.append({"target": name, "status": "not measured",
                        "detail": "skipped (--variant-rounds 0)"})
            continue
        if g is None:
            failed = [r for r in rs if "error" in r]
            out.append({"target": name, "status": "not measured",
                        "detail": "%d workload(s) failed: %s" % (len(failed), failed[0]["error"])
                        if failed else "no runs"})
            continue
        worst = max(rs, key=lambda r: r["ratio"])
        out.append({"target": name, "status": "met" if g <= v["target"] else "missed",
                    "detail": "%.4f (%+.2f%%); worst %s %.3f" % (
                        g, (g - 1) * 100, worst["workload"], worst["ratio"])})
    if "faults" in v:
        out.append(fault_target(v, rows))
    return out


def fault_target(v, rows):
    """Page faults of one workload (every thread count): the worst ratio of
    the medians, variant over base."""
    workload, bound = v["faults"]
    name = "%s: page faults of %s <= %.2f x %s" % (v["title"], workload, bound, v["base_label"])
    rs = [r for r in rows if r["workload"] == workload and r.get("base_minflt")]
    if not rs:
        return {"target": name, "status": "not measured", "detail": "no fault counts"}
    worst = max(rs, key=lambda r: r["test_minflt"] / r["base_minflt"])
    ratio = worst["test_minflt"] / worst["base_minflt"]
    return {"target": name, "status": "met" if ratio <= bound else "missed",
            "detail": "%.3f at %d thread(s): %d against %d" % (
                ratio, worst["threads"], worst["test_minflt"], worst["base_minflt"])}


def report_lines(key, rows, md_table, fmt, real_rows=()):
    if not rows:
        return []
    v = VARIANTS[key]
    L = ["## Cost of %s" % v["title"], "",
         "%s, back to back, %d rounds; medians. Geometric mean of the ratios: %s." % (
             v["what"][0].upper() + v["what"][1:], rows[0]["rounds"],
             fmt(geomean_ratio(rows), ".4f")), ""]
    real = real_ratio(key, real_rows)
    table = [[r["workload"], str(r["threads"]), fmt(r.get("base_secs")), fmt(r.get("test_secs")),
              fmt(r.get("ratio"), ".3f") if "ratio" in r else "failed: " + r["error"]]
             for r in rows]
    table += [["real: " + r["workload"], "-", fmt(r["base_secs"]), fmt(r["test_secs"]),
               fmt(r["ratio"], ".3f")] for r in real]
    L.append(md_table(["workload", "threads", v["base_label"] + " (s)", v["test_label"] + " (s)",
                       "ratio"], table, left=(0,)))
    if real:
        L += ["", "Real programs (interleaved with the peers' runs): geometric mean %s." %
              fmt(geomean_ratio(real), ".4f")]
    if "faults" in v:
        L += ["", "Minor page faults (medians), %s against %s: %s." % (
            v["test_label"], v["base_label"], "; ".join(
                "%s t=%d %d against %d" % (r["workload"], r["threads"], r["test_minflt"],
                                           r["base_minflt"])
                for r in rows if r["workload"] == v["faults"][0] and r.get("base_minflt")) or
            "not counted")]
    L.append("")
    return L


if __name__ == "__main__":
    print(__doc__)
    print("run it through bench/run.py (make bench)", file=os.sys.stderr)
