"""The cost of the allocation profile (issue #13, item 4): every macro
workload under pmalloc with PMALLOC_PROF=1 at the default sampling rate,
against the same library with the profile off, in the same run.

The two runs of a workload go back to back (their order alternating each
round), so the machine's drift between them is small; the macro workloads
take well under a second each, so more rounds are run than for the peer
comparison.  The cost is the geometric mean, over the workloads, of the
ratio of median times (on / off)."""

import os
import statistics

TARGET = 1.03  # at most 3% slower with the profile on
ROUNDS = 7
PROF_ENV = ("PMALLOC_PROF=1",)


def run(bindir, allocs, configs, quick, timeout, run_once, log):
    if "pmalloc" not in allocs:
        return []
    preload = allocs["pmalloc"]["preload"]
    rounds = 1 if quick else ROUNDS
    rows = []
    for (w, t, s) in configs:
        times = {False: [], True: []}
        errors = []
        for rnd in range(rounds):
            for on in ((False, True) if rnd % 2 == 0 else (True, False)):
                r = run_once(bindir, w, t, s, preload, timeout, PROF_ENV if on else ())
                if r["ok"]:
                    times[on].append(r["secs"])
                else:
                    errors.append(r["error"])
        row = {"workload": w, "threads": t, "scale": s, "rounds": rounds}
        if errors or not times[False] or not times[True]:
            row["error"] = errors[0] if errors else "not run"
        else:
            row["off_secs"] = statistics.median(times[False])
            row["on_secs"] = statistics.median(times[True])
            row["ratio"] = row["on_secs"] / row["off_secs"]
        log("prof cost %-8s t=%d  %s" % (w, t, "%.3f" % row["ratio"] if "ratio" in row
                                         else "FAILED " + row["error"]))
        rows.append(row)
    return rows


def geomean_ratio(rows):
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    if not ratios or len(ratios) != len(rows):
        return None
    return statistics.geometric_mean(ratios)


def evaluate_targets(rows):
    if not rows:
        return []
    name = "PMALLOC_PROF=1 macro geomean time <= %.2f x profile off" % TARGET
    g = geomean_ratio(rows)
    if g is None:
        failed = [r for r in rows if "error" in r]
        return [{"target": name, "status": "not measured",
                 "detail": "%d workload(s) failed: %s" % (len(failed), failed[0]["error"])}]
    worst = max(rows, key=lambda r: r["ratio"])
    return [{"target": name, "status": "met" if g <= TARGET else "missed",
             "detail": "%.4f (%+.2f%%); worst %s/t%d %.3f" % (
                 g, (g - 1) * 100, worst["workload"], worst["threads"], worst["ratio"])}]


def report_lines(rows, md_table, fmt):
    if not rows:
        return []
    g = geomean_ratio(rows)
    L = ["## Cost of the allocation profile (PMALLOC_PROF=1)", "",
         "pmalloc with the profile on at the default rate against the same library with it "
         "off, back to back, %d rounds; medians. Geometric mean of the ratios: %s." % (
             rows[0]["rounds"], fmt(g, ".4f")), ""]
    L.append(md_table(["workload", "threads", "off (s)", "on (s)", "on / off"],
                      [[r["workload"], str(r["threads"]), fmt(r.get("off_secs")),
                        fmt(r.get("on_secs")), fmt(r.get("ratio"), ".3f")
                        if "ratio" in r else "failed: " + r["error"]] for r in rows],
                      left=(0,)))
    L.append("")
    return L


if __name__ == "__main__":
    print(__doc__)
    print("run it through bench/run.py (make bench)", file=os.sys.stderr)
