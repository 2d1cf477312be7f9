"""RSS over time: bench/macro_rss under every allocator (issue #11).

Each allocator runs both variants of the workload once (exited-threads,
then same-thread): allocate, free 90% in long runs, idle with one
malloc/free pair every 10 ms, allocate the freed amount again.  The RSS
figures hardly move with the machine's load, and one run takes the idle
time plus a few seconds, so there is one round whatever --rounds says.

From run.py: run() measures, targets() adds pmalloc's lines to the
targets table, write_plots() draws RSS over time per variant and
add_to_report() appends a section to RESULTS.md and results.json, with the
minor page faults of the large-block workload (macro_large) taken from the
macro runs.  Only the standard library is used.
"""

import json
import os
import shutil
import statistics
import subprocess
import tempfile

VARIANTS = ["exited-threads", "same-thread"]
# (MiB allocated, idle milliseconds): the full run reaches about 800 MiB
# live, as in the issue; the quick run only shows the part works.
FULL = (800, 12000)
QUICK = (32, 2000)

TARGET_IDLE_RATIO = 1.5      # RSS at the end of the idle time / live bytes
TARGET_REALLOC_RATIO = 1.05  # RSS after reallocating / peak RSS before the frees
TARGET_FAULT_RISE = 0.10     # large-block faults, return on against return off


def parse(stdout):
    """Returns (samples, result): samples as [t, rss_kb, live_kb, phase]."""
    samples, result = [], None
    for line in stdout.splitlines():
        if line.startswith("SAMPLE "):
            kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            try:
                samples.append([float(kv["t"]), int(kv["rss_kb"]), int(kv["live_kb"]),
                                kv.get("phase", "")])
            except (KeyError, ValueError):
                continue
        elif line.startswith("RESULT "):
            result = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    return samples, result


def run_one(prog, variant, mib, idle_ms, env, preload_ok, timeout):
    try:
        r = subprocess.run([prog, variant, str(mib), str(idle_ms)], capture_output=True,
                           text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timeout after %ds" % timeout}
    if not preload_ok(r.stderr):
        return {"ok": False, "error": "preload failed: " + r.stderr.strip()[:200]}
    samples, res = parse(r.stdout)
    if r.returncode != 0 or not res or res.get("check") != "ok":
        err = (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1]
        return {"ok": False, "error": "exit %d: %s" % (r.returncode, err[:200])}
    out = {"ok": True, "samples": samples}
    for k in ("allocated_kb", "freed_kb", "live_kb", "peak_rss_kb", "idle_rss_kb",
              "realloc_rss_kb", "minflt"):
        out[k] = int(res[k])
    for k in ("idle_ratio", "realloc_ratio", "alloc_secs", "free_secs", "realloc_secs"):
        out[k] = float(res[k])
    return out


def run(bindir, allocs, quick, notes, env_for, preload_ok, log):
    """Runs both variants under every allocator; returns the part's record
    ({} when the program is missing)."""
    prog = os.path.join(bindir, "macro_rss")
    if not os.access(prog, os.X_OK):
        notes.append("rss: %s not built; skipped" % prog)
        return {}
    mib, idle_ms = QUICK if quick else FULL
    timeout = idle_ms // 1000 + 300
    rows = []
    for variant in VARIANTS:
        for a in allocs:
            r = run_one(prog, variant, mib, idle_ms, env_for(allocs[a]["preload"]),
                        preload_ok, timeout)
            r.update(variant=variant, allocator=a)
            rows.append(r)
            log("rss %-14s %-9s %s" % (variant, a, "idle %.2fx live, realloc %.3fx peak"
                                       % (r["idle_ratio"], r["realloc_ratio"])
                                       if r["ok"] else "FAILED " + r["error"]))
    return {"mib": mib, "idle_ms": idle_ms, "quick": quick, "rows": rows}


def failed(rss):
    return any(not r["ok"] for r in rss.get("rows", []))


def large_faults(macro):
    """Median minor faults of each large-block run: {(threads, alloc): n}."""
    out = {}
    for row in macro:
        if row["workload"] != "large":
            continue
        faults = [r["minflt"] for r in row.get("runs", []) if r.get("ok") and "minflt" in r]
        if faults:
            out[(row["threads"], row["allocator"])] = statistics.median(faults)
    return out


def idle_label(rss):
    return "%g s" % (rss["idle_ms"] / 1000)


def targets(rss, macro, allocs):
    """pmalloc's lines for the targets table."""
    if "pmalloc" not in allocs:
        return []
    t = []
    by = {(r["variant"], r["allocator"]): r for r in rss.get("rows", [])}
    short = "" if not rss.get("quick") else \
        " (quick run: %d MiB, %s idle; the targets are for the full run)" % (
            rss["mib"], idle_label(rss))
    for v in VARIANTS if rss else []:
        r = by.get((v, "pmalloc"))
        name = "RSS %s after the frees <= %.1fx live: %s" % (idle_label(rss),
                                                             TARGET_IDLE_RATIO, v)
        if not r or not r["ok"]:
            t.append({"target": name, "status": "not measured",
                      "detail": r["error"] if r else "not run"})
        else:
            x = r["idle_ratio"]
            t.append({"target": name, "status": "met" if x <= TARGET_IDLE_RATIO else "missed",
                      "detail": "%.2fx: %.0f MiB resident for %.0f MiB live%s"
                      % (x, r["idle_rss_kb"] / 1024, r["live_kb"] / 1024, short)})
        name = "RSS after reallocating the freed amount <= %.2fx the peak: %s" % (
            TARGET_REALLOC_RATIO, v)
        if r and r["ok"]:
            x = r["realloc_ratio"]
            t.append({"target": name,
                      "status": "met" if x <= TARGET_REALLOC_RATIO else "missed",
                      "detail": "%.3fx: %.0f MiB against a peak of %.0f MiB%s"
                      % (x, r["realloc_rss_kb"] / 1024, r["peak_rss_kb"] / 1024, short)})
    return t


def write_plots(outdir, allocs, rss, title, colors, notes):
    """One PNG per variant: RSS over time for each allocator, with the live
    bytes and the target line from pmalloc's run (or the first that ran)."""
    rows = rss.get("rows", [])
    if not rows:
        return []
    gp = shutil.which("gnuplot")
    if not gp:
        notes.append("rss plots: gnuplot not installed; none drawn")
        return []
    r = subprocess.run([gp, "-e", "set terminal"], capture_output=True, text=True,
                       check=False)
    term = "pngcairo" if "pngcairo" in r.stdout + r.stderr else "png"
    tmp = tempfile.mkdtemp(prefix="pmbench-rss-")
    made = []
    for v in VARIANTS:
        good = {x["allocator"]: x for x in rows if x["variant"] == v and x["ok"]}
        if not good:
            continue
        plots = []
        for a in allocs:
            if a not in good:
                continue
            dat = os.path.join(tmp, "%s-%s.dat" % (v, a))
            with open(dat, "w") as f:
                # The target line only where the target applies: idle.
                for t, rss_kb, live_kb, phase in good[a]["samples"]:
                    target = "%.2f" % (TARGET_IDLE_RATIO * live_kb / 1024) \
                        if phase == "idle" else "NaN"
                    f.write("%.3f %.2f %.2f %s\n" % (t, rss_kb / 1024, live_kb / 1024, target))
            plots.append("'%s' using 1:2 with lines lw 2 lc rgb '%s' title '%s'"
                         % (dat, colors.get(a, "#777777"), a))
        ref_name = "pmalloc" if "pmalloc" in good else next(iter(good))
        ref = os.path.join(tmp, "%s-%s.dat" % (v, ref_name))
        plots.append("'%s' using 1:3 with lines lw 1 dt 2 lc rgb 'black' "
                     "title 'live bytes (%s run)'" % (ref, ref_name))
        plots.append("'%s' using 1:4 with lines lw 2 dt 3 lc rgb 'black' "
                     "title '%.1fx live (target at the end of the idle time)'"
                     % (ref, TARGET_IDLE_RATIO))
        # Phase boundaries of the reference run, so the plot reads as the
        # workload's story.
        marks, last = [], None
        for t, _, _, phase in good[ref_name]["samples"]:
            if phase != last and last is not None:
                marks.append((t, phase))
            last = phase
        png = os.path.join(outdir, "rss_timeline_%s.png" % v)
        script = [
            "set terminal %s size 1280,640 %s" % (term, "font 'sans,10'"
                                                  if term == "pngcairo" else ""),
            "set output '%s'" % png,
            "set title \"RSS over time, %s: %d MiB of 16 B-1 KiB blocks, 90%% freed, "
            "%s idle, freed amount allocated again\\n%s\" noenhanced"
            % (v, rss["mib"], idle_label(rss), title.replace('"', "'")),
            "set xlabel 'seconds since start'",
            "set ylabel 'MiB'",
            "set yrange [0:*]",
            "set grid",
            "set datafile missing 'NaN'",
            "set key bmargin center horizontal maxrows 2 noenhanced",
        ]
        # Labels step down, so short phases do not print over each other.
        for i, (t, phase) in enumerate(marks):
            script.append("set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 3 "
                          "lc rgb '#999999'" % (t, t))
            script.append("set label '%s' at %.3f, graph %.2f left offset 0.5,0 "
                          "tc rgb '#666666'" % (phase, t, 0.97 - 0.05 * (i % 4)))
        script.append("plot " + ", ".join(plots))
        r = subprocess.run([gp], input="\n".join(script) + "\n", capture_output=True,
                           text=True, check=False)
        if r.returncode == 0 and os.path.exists(png):
            made.append(os.path.basename(png))
        else:
            notes.append("plot %s failed: %s" % (os.path.basename(png), r.stderr.strip()[:200]))
    shutil.rmtree(tmp, ignore_errors=True)
    return made


def md_table(header, rows, left=2):
    """A markdown table, the first `left` columns aligned left."""
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < left else "---:" for i in range(len(header))) + "|"]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


TABLE_HEADER = ["variant", "allocator", "peak RSS MiB", "live after frees MiB",
                "RSS after idle MiB", "RSS / live", "RSS after realloc MiB",
                "realloc / peak", "minor faults"]


def table_rows(allocs, rss):
    by = {(r["variant"], r["allocator"]): r for r in rss.get("rows", [])}
    rows = []
    for v in VARIANTS:
        for a in allocs:
            r = by.get((v, a))
            if not r:
                continue
            if not r["ok"]:
                rows.append([v, a, "FAILED", "", "", "", "", "", r["error"][:60]])
                continue
            rows.append([v, a, "%.0f" % (r["peak_rss_kb"] / 1024), "%.1f" % (r["live_kb"] / 1024),
                         "%.0f" % (r["idle_rss_kb"] / 1024), "%.2f" % r["idle_ratio"],
                         "%.0f" % (r["realloc_rss_kb"] / 1024), "%.3f" % r["realloc_ratio"],
                         r["minflt"]])
    return rows


def fault_rows(allocs, macro):
    faults = large_faults(macro)
    threads = sorted({th for th, _ in faults})
    header = ["allocator"] + ["t=%d minor faults (x glibc)" % th for th in threads]
    rows = []
    for a in allocs:
        row = [a]
        for th in threads:
            n, g = faults.get((th, a)), faults.get((th, "glibc"))
            row.append("–" if n is None else "%d (%.2f)" % (n, n / g) if g else "%d" % n)
        rows.append(row)
    return header, rows, threads


def summary(allocs, rss, macro):
    """The part's tables as markdown, for RESULTS.md and the terminal."""
    L = []
    if rss.get("rows"):
        L.append("RSS over time (bench/macro_rss, %d MiB, %s idle; targets: RSS / live <= "
                 "%.1f, realloc / peak <= %.2f):" % (rss["mib"], idle_label(rss),
                                                     TARGET_IDLE_RATIO, TARGET_REALLOC_RATIO))
        L.append("")
        L.append(md_table(TABLE_HEADER, table_rows(allocs, rss)))
    header, rows, threads = fault_rows(allocs, macro)
    if threads:
        L.append("")
        L.append("Minor page faults of the large-block workload (macro_large, median):")
        L.append("")
        L.append(md_table(header, rows, left=1))
    return "\n".join(L)


def start_rss(rss):
    """The range of the first samples' RSS in MiB, as text."""
    first = [r["samples"][0][1] / 1024 for r in rss["rows"] if r["ok"] and r["samples"]]
    if not first:
        return "?"
    lo, hi = min(first), max(first)
    return "%.1f" % lo if hi - lo < 0.05 else "%.1f–%.1f" % (lo, hi)


def add_to_report(outdir, allocs, rss, macro, plots):
    """Appends the section to RESULTS.md and the data to results.json
    (both written by run.py just before)."""
    if not rss.get("rows") and not large_faults(macro):
        return
    L = ["", "## RSS over time (issue #11)", ""]
    if rss.get("rows"):
        L.append(
            "`macro_rss VARIANT %d %d`: %d MiB of 16 B–1 KiB blocks are allocated and written, "
            "by two threads that then exit (exited-threads) or by the main thread "
            "(same-thread); the main thread frees 90%% of them in runs of 900 blocks "
            "allocated one after the other, so whole pages come free; it then idles for %s "
            "with one malloc/free pair every 10 ms, and finally allocates the freed amount "
            "again. RSS is read from `/proc/self/statm` every 100 ms. *RSS / live* is RSS at "
            "the end of the idle time over the bytes still allocated (target: at most %.1f); "
            "*realloc / peak* is RSS after allocating the freed amount again over the peak "
            "before the frees (target: at most %.2f). Live bytes are requested sizes, so "
            "the program's own pages (%s MiB resident at the start) count against every "
            "allocator. One run per allocator and variant; *minor faults* are the whole "
            "run's." % (rss["mib"], rss["idle_ms"], rss["mib"], idle_label(rss),
                        TARGET_IDLE_RATIO, TARGET_REALLOC_RATIO, start_rss(rss)))
        L.append("")
    L.append(summary(allocs, rss, macro))
    L.append("")
    if large_faults(macro):
        L.append("The page faults' target (at most %d%% over the same tree with the return "
                 "of free memory disabled) is measured back to back with that variant: see "
                 "the cost of the return of free memory above." % (TARGET_FAULT_RISE * 100))
        L.append("")
    for p in plots:
        L.append("![%s](%s)" % (p[:-4], p))
        L.append("")
    with open(os.path.join(outdir, "RESULTS.md"), "a") as f:
        f.write("\n".join(L))
    path = os.path.join(outdir, "results.json")
    with open(path) as f:
        data = json.load(f)
    data["rss_timeline"] = dict(rss, plots=plots)
    data["large_faults"] = [{"threads": th, "allocator": a, "minflt": n}
                            for (th, a), n in sorted(large_faults(macro).items())]
    with open(path, "w") as f:
        json.dump(data, f, indent=1, sort_keys=False)
