#!/usr/bin/python3
"""Runs cio's benchmarks and their peers side by side (`make bench`).

Finds every benchmark program:
  * build/bench/bench_<area>_<name>   C programs built by cio_bench()
  * bench/<area>/peer_<name>.py       Python peers, run twice with
                                      /usr/bin/python3: --loop asyncio and
                                      --loop uvloop
runs each one (a live progress line on stderr), collects the JSON records
they print (one per line: workload, impl, value, unit, better), and prints a
table per workload with each implementation's figure and its ratio to cio's.

Unless --quick is given it then writes
  bench/results/latest.json   a plain JSON list of records
  bench/results/meta.json     machine, date, commit, load, programs run
  bench/results/<area>.png    one chart per area (gnuplot)
and rewrites the figures section of docs/BENCHMARKS.md (between the
<!-- bench:begin --> and <!-- bench:end --> markers). With --only, the
records of the programs that ran replace theirs in latest.json and the
others are kept.

A program that fails (exit status, timeout, malformed output) is reported
and skipped; the run goes on, and exits with status 1 at the end.
Targets shown next to cio's figures come from bench/targets.json.
Stdlib only.
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
DOC = os.path.join(ROOT, "docs", "BENCHMARKS.md")
DOC_BEGIN = "<!-- bench:begin -->"
DOC_END = "<!-- bench:end -->"
PEER_LOOPS = ("asyncio", "uvloop")
REQUIRED = ("workload", "impl", "value", "unit", "better")
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
SIZE_UNITS = {"B", "KiB", "MiB", "GiB", "kB", "MB", "GB"}
# Chart colours of the usual implementations; others get gnuplot's defaults.
COLOURS = {"cio": "#1f6fb4", "asyncio": "#f28e2b", "uvloop": "#9b59b6", "libuv": "#7f7f7f",
           "aiohttp": "#59a14f", "asyncpg": "#e15759", "baseline": "#c8c8c8"}
# Not a peer: a physical limit measured in the same run (e.g. the first touch
# of as many pages); shown, but never "the best peer" cio is compared with.
BASELINE = "baseline"


def is_baseline(impl):
    """A physical limit measured in the same run ("baseline", or a variant
    such as "baseline-strided"), shown next to the peers but never one."""
    return impl == BASELINE or impl.startswith(BASELINE + "-")
EXTRA_COLOURS = ["#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


# ---------------------------------------------------------------- discovery

class Job:
    """One program invocation: a C benchmark, or a peer with one loop."""

    def __init__(self, kind, name, area, cmd):
        self.kind = kind  # 0 C program, 1 Python peer, 2 callgrind count
        self.name = name  # shown in the progress line, matched by --only
        self.area = area
        self.cmd = cmd
        self.seconds = 0.0
        self.errors = []  # what went wrong, if anything
        self.notes = []  # what it said on stderr although it succeeded
        self.nrecords = 0


def discover(build_dir, python, with_callgrind):
    jobs = []
    for path in sorted(glob.glob(os.path.join(build_dir, "bench", "bench_*"))):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        name = os.path.basename(path)
        parts = name.split("_")
        area = parts[1] if len(parts) > 2 else "misc"
        jobs.append(Job(0, name, area, [path]))
    for path in sorted(glob.glob(os.path.join(BENCH, "*", "peer_*.py"))):
        area = os.path.basename(os.path.dirname(path))
        rel = os.path.relpath(path, BENCH)
        for loop in PEER_LOOPS:
            jobs.append(Job(1, f"{rel} --loop {loop}", area, [python, path, "--loop", loop]))
    # Instruction counts under callgrind of the programs that ask for them.
    spec = load_json(os.path.join(BENCH, "common", "callgrind.json"), {})
    if with_callgrind and shutil.which("valgrind"):
        for prog, opts in sorted(spec.items()):
            path = os.path.join(build_dir, "bench", prog)
            if prog.startswith("_") or not os.access(path, os.X_OK):
                continue
            cmd = [python, os.path.join(BENCH, "common", "callgrind.py"), path,
                   "--ops-per-n", str(opts["ops_per_n"]), "--workload", opts["workload"]]
            jobs.append(Job(2, f"callgrind {prog}", prog.split("_")[1], cmd))
    # Grouped by area: C programs first, then peers, then callgrind counts.
    jobs.sort(key=lambda j: (j.area, j.kind, j.name))
    return jobs


# ---------------------------------------------------------------- running

class Progress:
    """The live line on stderr: rewritten in place on a terminal, one line per
    finished program otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.width = shutil.get_terminal_size((100, 20)).columns

    def live(self, text):
        if self.tty:
            sys.stderr.write("\r\033[K" + text[: self.width - 1])
            sys.stderr.flush()

    def done(self, text):
        if self.tty:
            sys.stderr.write("\r\033[K")
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _drain(stream, sink):
    for line in iter(stream.readline, ""):
        sink.append(line)
    stream.close()


def parse_records(lines, job):
    records = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict) or any(k not in rec for k in REQUIRED):
                raise ValueError(f"needs the keys {', '.join(REQUIRED)}")
            if rec["better"] not in ("lower", "higher"):
                raise ValueError('"better" must be "lower" or "higher"')
            if isinstance(rec["value"], bool) or not isinstance(rec["value"], (int, float)) \
                    or not math.isfinite(rec["value"]):
                raise ValueError('"value" must be a finite number')
        except ValueError as e:
            job.errors.append(f"stdout line {n}: {e}: {line[:120]}")
            continue
        records.append({k: rec[k] for k in REQUIRED})
    return records


def kill_group(proc):
    """Kills the program we started and whatever it started (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_job(job, label, args, progress):
    """Runs job once; returns its records (possibly partial if it failed)."""
    cmd = job.cmd + (["--quick"] if args.quick else [])
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    except OSError as e:
        job.errors.append(f"cannot start: {e}")
        return []
    out, err = [], []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)]
    for r in readers:
        r.start()
    timed_out = False
    try:
        while True:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - t0
                progress.live(f"{label} {job.name} ... {elapsed:.1f} s")
                if elapsed > args.timeout:
                    timed_out = True
                    kill_group(proc)
    except KeyboardInterrupt:
        kill_group(proc)
        proc.wait()
        raise
    job.seconds += time.monotonic() - t0
    deadline = time.monotonic() + 2
    for r in readers:
        r.join(timeout=max(0, deadline - time.monotonic()))
    if any(r.is_alive() for r in readers):
        # Something the program started still holds its stdout or stderr.
        kill_group(proc)
        for r in readers:
            r.join()
    records = parse_records(out, job)
    if timed_out:
        job.errors.append(f"killed after {args.timeout:.0f} s")
    elif proc.returncode != 0:
        what = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
                else f"exit status {proc.returncode}")
        job.errors.append(what)
    elif not records:
        job.errors.append("printed no records")
    if job.errors and err:
        tail = "".join(err[-5:]).rstrip()
        job.errors.append("stderr: " + tail.replace("\n", "\n        "))
    elif err and any(line.strip() for line in err):
        job.notes.append(f"stderr ({len(err)} lines): " + err[-1].strip()[:150])
    return records


def run_all(jobs, args):
    """Runs every job args.runs times; returns the records, each value the
    median of the runs."""
    progress = Progress()
    samples = {}  # (workload, impl) -> [record, ...]
    total = len(jobs) * args.runs
    step = 0
    for job in jobs:
        for run in range(args.runs):
            step += 1
            label = f"[{step}/{total}]"
            for rec in run_job(job, label, args, progress):
                samples.setdefault((rec["workload"], rec["impl"]), []).append(rec)
                if run == 0:
                    job.nrecords += 1
            status = "ok" if not job.errors else "FAILED"
            plural = "" if job.nrecords == 1 else "s"
            progress.done(f"{label} {job.name}  {job.seconds:.1f} s  {status}"
                          + (f" ({job.nrecords} record{plural})" if not job.errors else ""))
            for note in job.errors or job.notes:
                progress.done(f"      {note}")
            job.notes = []
            if job.errors:
                break  # no more runs of a failing program
    records = []
    for recs in samples.values():
        rec = dict(recs[0])
        rec["value"] = statistics.median(r["value"] for r in recs)
        records.append(rec)
    return records


# ---------------------------------------------------------------- presenting

def fmt_value(value, unit):
    a = abs(value)
    if "/s" in unit and a >= 1e4:  # rates: 36.7 k ops/s, 3.70 M rows/s
        for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if a >= scale:
                v = value / scale
                digits = 2 if abs(v) < 10 else 1 if abs(v) < 100 else 0
                return f"{v:.{digits}f} {prefix} {unit}"
    if unit == "s" and a < 1:
        text = f"{value:.4f}"
    elif unit == "s" and a < 100:
        text = f"{value:.2f}"
    elif a >= 100 or a == 0 or float(value).is_integer():
        text = f"{value:.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 0.01:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}"


def ratio_words(unit, better):
    if unit in TIME_UNITS or (better == "higher" and "/s" in unit):
        return "faster", "slower"
    if unit in SIZE_UNITS:
        return ("smaller", "larger") if better == "lower" else ("larger", "smaller")
    return "better", "worse"


def ratio_text(cio, peer):
    """'cio is 43.1x faster' (or slower) for peer's record against cio's."""
    if cio is None or peer is None:
        return ""
    c, p = cio["value"], peer["value"]
    if c <= 0 or p <= 0:
        return ""
    r = p / c if cio["better"] == "lower" else c / p
    good, bad = ratio_words(cio["unit"], cio["better"])
    if abs(r - 1) < 0.005:
        return "cio is on par"
    word = good if r >= 1 else bad
    r = max(r, 1 / r)
    return f"cio is {r:.2f}x {word}" if r < 10 else f"cio is {r:.1f}x {word}"


def target_met(target, impls):
    """Whether cio's record in impls meets target: by its "ratios" to peers
    measured in the same run when there are any (a target the issue states
    as "≥ 2× asyncpg" is about the peer here and now, not about the figure
    the peer made on the issue's machine), else by its absolute value."""
    rec = impls.get("cio") if impls else None
    if not target or not rec or target.get("unit") != rec["unit"]:
        return None
    ratios = target.get("ratios", {})
    peers = {p: impls.get(p) for p in ratios}
    if ratios and all(peers.values()):
        if rec["better"] == "higher":
            return all(rec["value"] >= r * peers[p]["value"] for p, r in ratios.items())
        return all(rec["value"] * r <= peers[p]["value"] for p, r in ratios.items())
    v, t = rec["value"], target["value"]
    op = target.get("op", "<=")
    if op == "<=":
        return v <= t
    if op == ">=":
        return v >= t
    if op == "~":
        return abs(v - t) <= target.get("tol", 0)
    return None


def area_of(workload):
    return workload.split(".", 1)[0]


TARGET_ORDER = []  # workload ids in bench/targets.json order, set by main()


def workload_rank(workload):
    """Workloads named in bench/targets.json come in its order (a variant
    next to its base: core.timers_1m with core.timers_1m.cpu); others after."""
    for i, key in enumerate(TARGET_ORDER):
        if key == workload or key.startswith(workload + ".") or workload.startswith(key + "."):
            return i
    return len(TARGET_ORDER)


def grouped(records):
    """{area: {workload: {impl: record}}}: areas in alphabetical order, their
    workloads in targets.json order then first-seen, cio first among the
    implementations."""
    areas = {}
    for rec in records:
        w = areas.setdefault(area_of(rec["workload"]), {}).setdefault(rec["workload"], {})
        w[rec["impl"]] = rec
    areas = dict(sorted(areas.items()))
    for area, workloads in areas.items():
        seen = list(workloads)
        names = sorted(seen, key=lambda w: (workload_rank(w), seen.index(w)))
        areas[area] = workloads = {w: workloads[w] for w in names}
        for w, impls in workloads.items():
            order = sorted(impls, key=lambda i: (i != "cio", not i.startswith("cio-"),
                                                 is_baseline(i), list(impls).index(i)))
            workloads[w] = {i: impls[i] for i in order}
    return areas


def print_tables(records, targets):
    for area, workloads in grouped(records).items():
        print(f"\n== {area}")
        for workload, impls in workloads.items():
            first = next(iter(impls.values()))
            print(f"{workload}  ({first['better']} is better)")
            cio = impls.get("cio")
            for impl, rec in impls.items():
                note = ""
                if impl == "cio":
                    t = targets.get(workload)
                    met = target_met(t, impls)
                    if t:
                        note = f"target {t['text']}" + {True: ": met", False: ": NOT met",
                                                         None: ""}[met]
                else:
                    note = ratio_text(cio, rec)
                print(f"  {impl:<10} {fmt_value(rec['value'], rec['unit']):>14}   {note}")


# ---------------------------------------------------------------- results

def load_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def merge(old, new):
    """Records of new replace the old ones with the same (workload, impl);
    the other old records are kept (a full run does not merge: it replaces
    everything)."""
    key = lambda r: (r["workload"], r["impl"])  # noqa: E731
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def sort_records(records):
    areas = grouped(records)
    return [rec for workloads in areas.values() for impls in workloads.values()
            for rec in impls.values()]


def sh(cmd):
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "os": sh(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "compiler": sh(["cc", "--version"]).split("\n")[0],
        "python": sh(["/usr/bin/python3", "--version"]),
        "uvloop": sh(["/usr/bin/python3", "-c", "import uvloop; print(uvloop.__version__)"]),
        "vm.max_map_count": sh(["cat", "/proc/sys/vm/max_map_count"]),
    }


def write_results(out_dir, records, jobs, args, started, load_before):
    os.makedirs(out_dir, exist_ok=True)
    latest = os.path.join(out_dir, "latest.json")
    if args.only:
        records = merge(load_json(latest, []), records)
    records = sort_records(records)
    with open(latest, "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(r) for r in records) + "\n]\n")

    meta_path = os.path.join(out_dir, "meta.json")
    programs = {}
    if args.only:
        programs = load_json(meta_path, {}).get("programs", {})
    for job in jobs:
        programs[job.name] = {"area": job.area, "seconds": round(job.seconds, 2),
                              "status": "failed" if job.errors else "ok",
                              "date": started}
    meta = {
        "date": started,
        "git_commit": sh(["git", "rev-parse", "--short", "HEAD"]),
        "command": " ".join(["bench/run.py"] + sys.argv[1:]),
        "runs_per_program": args.runs,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "machine": machine_info(),
        "programs": dict(sorted(programs.items())),
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return records, meta


# ---------------------------------------------------------------- charts

def gp_str(s):
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + s + '"'


def fold_counts(workloads):
    """Splits the instruction counts ("<workload>.instructions", unit instr,
    from callgrind) off the workloads they count: returns the remaining
    workloads and {workload: instructions per op}. They are shown with that
    workload rather than as a row or panel of their own."""
    counts = {}
    for w, impls in workloads.items():
        base, _, last = w.rpartition(".")
        rec = impls.get("cio")
        if last == "instructions" and rec and rec["unit"] == "instr" and base in workloads:
            counts[base] = rec["value"]
    rest = {w: i for w, i in workloads.items()
            if not (w.endswith(".instructions") and w.rpartition(".")[0] in counts)}
    return rest, counts


def chart(area, workloads, targets, path):
    """One PNG per area: a small bar chart per workload (its own unit and
    scale, log scale when the bars differ by more than 30x), one bar per
    implementation, cio's target as a dashed line."""
    workloads, counts = fold_counts(workloads)
    n = len(workloads)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    impls_seen = []
    for impls in workloads.values():
        for i in impls:
            if i not in impls_seen:
                impls_seen.append(i)
    colour = {}
    extra = iter(EXTRA_COLOURS * 4)
    for i in impls_seen:
        colour[i] = COLOURS.get(i) or next(extra)

    lines = [
        f"set terminal pngcairo size {430 * cols},{350 * rows + 40} font 'DejaVu Sans,10'",
        f"set output {gp_str(path)}",
        "set style fill solid 0.9 border rgb '#333333'",
        "set boxwidth 0.65",
        "set grid ytics lc rgb '#dddddd'",
        "unset key",
        "set xtics nomirror scale 0",
        "set ytics nomirror",
        "set border 3",
        "set format y '%g'",
        "set bmargin 3.5",  # room for implementation names on two lines
        f"set multiplot layout {rows},{cols} title "
        + gp_str(f"cio benchmarks: {area}") + " font ',13'",
    ]
    for k, (workload, impls) in enumerate(workloads.items()):
        recs = list(impls.values())
        unit, better = recs[0]["unit"], recs[0]["better"]
        values = [r["value"] for r in recs if r["value"] > 0]
        target = targets.get(workload)
        tval = target["value"] if target and target.get("unit") == unit else None
        span = values + ([tval] if tval else [])
        log = bool(values) and min(span) > 0 and max(span) / min(span) > 30
        short = workload.split(".", 1)[1] if "." in workload else workload
        title = f"{short}\n{unit}, {better} is better"
        if tval is not None:
            title += f"\ntarget {target['text']}"
        if workload in counts:
            title += f"\ncio: {counts[workload]:.0f} instructions per op (callgrind)"
        # Large values are plotted in thousands or millions (axis 60, not 6e+07).
        scale, prefix = 1, ""
        if span and max(span) >= 1e6:
            scale, prefix = 1e6, "M "
        elif span and max(span) >= 1e5:
            scale, prefix = 1e3, "k "
        span = [v / scale for v in span]
        title = title.replace(f"\n{unit},", f"\n{prefix}{unit},", 1)
        lines.append(f"set title {gp_str(title)} noenhanced")
        lines.append(f"set xrange [-0.6:{len(recs) - 0.4}]")
        if log:
            lo, hi = min(span), max(span)
            lines += ["set logscale y", f"set yrange [{lo / 3:g}:{hi * 6:g}]"]
        else:
            hi = max(span) if span else 1
            lines += ["unset logscale y", f"set yrange [0:{hi * 1.22:g}]"]
        block = f"$d{k}"
        lines.append(f"{block} << EOD")
        for x, r in enumerate(recs):
            rgb = int(colour[r["impl"]][1:], 16)
            label = fmt_value(r["value"], unit).rsplit(" ", 1)[0]
            name = r["impl"].replace("-", "-\n")  # long names on two lines
            lines.append(f"{x} {gp_str(name)} {r['value'] / scale!r} {rgb} {gp_str(label)}")
        lines.append("EOD")
        plot = "plot "
        if tval is not None:  # first, so that the bars and labels cover it
            plot += f"{tval / scale!r} with lines dt 2 lw 1.5 lc rgb '#d62728', "
        plot += (f"{block} using 1:3:4:xtic(2) with boxes lc rgb variable, "
                 f"{block} using 1:3:5 with labels offset 0,0.8 font ',9' noenhanced")
        lines.append(plot)
    lines.append("unset multiplot")
    script = "\n".join(lines) + "\n"
    try:
        res = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        return f"gnuplot: {e}"
    if res.returncode != 0:
        return "gnuplot: " + res.stderr.strip()[-500:]
    return None


# ---------------------------------------------------------------- docs

def doc_section(records, targets, meta, out_dir):
    m = meta["machine"]
    rel = os.path.relpath(out_dir, os.path.dirname(DOC))
    lines = [
        DOC_BEGIN,
        "<!-- Generated by bench/run.py from bench/results/latest.json: do not edit by hand. -->",
        "",
        f"Last run: {meta['date']}, commit {meta['git_commit']}, `{meta['command']}`; "
        f"{m['cores']} cores ({m['cpu']}), {m['memory']}, Linux {m['kernel']}, "
        f"{m['python']}, uvloop {m['uvloop']}; load average {meta['loadavg_before']:.2f} "
        f"before, {meta['loadavg_after']:.2f} after. Each cell is one program's own "
        "median (see each benchmark's source for its repetitions).",
        "",
    ]
    failed = [name for name, p in meta.get("programs", {}).items() if p.get("status") != "ok"]
    if failed:
        lines += ["**Failed in their last run** (figures missing or partial): "
                  + ", ".join(f"`{n}`" for n in failed) + ".", ""]
    for area, workloads in grouped(records).items():
        peers = []
        for impls in workloads.values():
            for i in impls:
                if i != "cio" and i not in peers:
                    peers.append(i)
        peers = sorted(peers, key=lambda i: (not i.startswith("cio-"), is_baseline(i),
                                             peers.index(i)))
        dates = sorted({p["date"] for p in meta.get("programs", {}).values()
                        if p.get("area") == area and "date" in p})
        when = f"Measured {dates[-1]}." if dates else ""
        lines += [f"### {area}", "", when, "", f"![{area} benchmarks]({rel}/{area}.png)", ""]
        head = ["workload", "cio", "target"] + peers + ["cio vs the best peer"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|---:|---|" + "---:|" * len(peers) + "---|")
        workloads, counts = fold_counts(workloads)
        for workload, impls in workloads.items():
            cio = impls.get("cio")
            t = targets.get(workload)
            met = target_met(t, impls)
            tcell = ""
            if t:
                tcell = t["text"] + {True: " ✅", False: " ❌", None: ""}[met]
            cio_cell = fmt_value(cio["value"], cio["unit"]) if cio else "—"
            if workload in counts:
                cio_cell += f" ({counts[workload]:.0f} instructions)"
            cells = [f"`{workload}`", cio_cell, tcell]
            for p in peers:
                r = impls.get(p)
                cells.append(fmt_value(r["value"], r["unit"]) if r else "—")
            # Variants of cio itself (cio-io_uring: another backend) are
            # shown, not compared with as peers.
            others = [r for i, r in impls.items()
                      if i != "cio" and not is_baseline(i) and not i.startswith("cio-")]
            best = None
            if others:
                pick = min if (cio or others[0])["better"] == "lower" else max
                best = pick(others, key=lambda r: r["value"])
            vs = ratio_text(cio, best)
            cells.append(f"{vs} than {best['impl']}" if vs and vs != "cio is on par"
                         else (f"on par with {best['impl']}" if vs else ""))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(DOC_END)
    return "\n".join(lines)


def update_doc(section):
    try:
        with open(DOC) as f:
            text = f.read()
    except OSError:
        text = "# Benchmarks\n\n## Figures\n\n"
    if DOC_BEGIN in text and DOC_END in text:
        pre, rest = text.split(DOC_BEGIN, 1)
        post = rest.split(DOC_END, 1)[1]
        text = pre + section + post
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(DOC, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="CMake build directory (default: build)")
    p.add_argument("--quick", action="store_true",
                   help="pass --quick to every program (smoke run); writes nothing "
                        "unless --out is given")
    p.add_argument("--only", metavar="SUBSTRING",
                   help="run only one area's programs (--only core), or those whose "
                        "name contains SUBSTRING (bench_core_switch, peer_switch)")
    p.add_argument("--runs", type=int, default=1, metavar="N",
                   help="run each program N times and keep the median (default 1: "
                        "the programs do their own repetitions)")
    p.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                   help="kill a program running longer than this (default 300)")
    p.add_argument("--out", metavar="DIR",
                   help="where to write results (default bench/results; with --quick, "
                        "nothing is written unless this is given); docs/BENCHMARKS.md is "
                        "rewritten only for bench/results")
    p.add_argument("--no-callgrind", action="store_true",
                   help="skip the instruction counts (bench/common/callgrind.json)")
    p.add_argument("--no-doc", action="store_true", help="do not rewrite docs/BENCHMARKS.md")
    p.add_argument("--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                   else sys.executable, help="interpreter of the peers (default /usr/bin/python3)")
    p.add_argument("--list", action="store_true", help="list the programs and exit")
    p.add_argument("--render", action="store_true",
                   help="run nothing: redraw the charts and the doc section from the "
                        "results already in bench/results (or --out)")
    args = p.parse_args()
    if args.runs < 1:
        p.error("--runs must be at least 1")

    targets = {k: v for k, v in load_json(os.path.join(BENCH, "targets.json"), {}).items()
               if not k.startswith("_")}
    TARGET_ORDER[:] = list(targets)
    if args.render:
        out_dir = os.path.abspath(args.out or os.path.join(BENCH, "results"))
        records = load_json(os.path.join(out_dir, "latest.json"), [])
        meta = load_json(os.path.join(out_dir, "meta.json"), None)
        if not records or not meta:
            print(f"run.py: no results in {out_dir}", file=sys.stderr)
            return 1
        render(out_dir, records, meta, targets, args)
        return 0

    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    if not os.path.isdir(os.path.join(build, "bench")):
        print(f"run.py: no {build}/bench: build first (make build, or cmake --build "
              f"{args.build})", file=sys.stderr)
    jobs = discover(build, args.python, not args.no_callgrind)
    if args.only:
        if any(j.area == args.only for j in jobs):  # an area's name: exactly that area
            jobs = [j for j in jobs if j.area == args.only]
        else:
            jobs = [j for j in jobs if args.only in j.name]
    if args.list:
        for j in jobs:
            print(j.name)
        return 0
    if not jobs:
        print("run.py: no benchmark programs found", file=sys.stderr)
        return 1

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    records = run_all(jobs, args)
    elapsed = time.monotonic() - t0

    print_tables(records, targets)
    failed = [j for j in jobs if j.errors]
    print(f"\n{len(jobs)} programs, {len(records)} records in {elapsed:.0f} s"
          + (f"; {len(failed)} FAILED: " + ", ".join(j.name for j in failed) if failed else ""))

    out_dir = args.out or (None if args.quick else os.path.join(BENCH, "results"))
    if out_dir and records:
        out_dir = os.path.abspath(out_dir)
        all_records, meta = write_results(out_dir, records, jobs, args, started, load_before)
        render(out_dir, all_records, meta, targets, args)
    return 1 if failed else 0


def render(out_dir, records, meta, targets, args):
    """Draws the charts and rewrites the doc section from all the records."""
    areas = grouped(records)
    for area, workloads in areas.items():
        err = chart(area, workloads, targets, os.path.join(out_dir, f"{area}.png"))
        if err:
            print(f"chart {area}: {err}", file=sys.stderr)
    written = [os.path.relpath(os.path.join(out_dir, f), ROOT)
               for f in ([] if args.render else ["latest.json", "meta.json"])
               + [f"{a}.png" for a in areas]]
    # The doc links the charts and data of bench/results: results written
    # elsewhere (--out) leave it alone.
    if not args.no_doc and not args.quick and out_dir == os.path.join(BENCH, "results"):
        update_doc(doc_section(records, targets, meta, out_dir))
        written.append(os.path.relpath(DOC, ROOT))
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    sys.exit(main())
