#!/usr/bin/python3
"""Instruction counts per operation of a C benchmark, under callgrind.

On a noisy machine, wall-clock figures drift; the number of instructions an
operation executes does not. This runs a benchmark program twice under
``valgrind --tool=callgrind`` with two sizes (``--n N1`` and ``--n N2``, see
bench_size() in bench.h) and prints

    (Ir(N2) - Ir(N1)) / ((N2 - N1) * ops_per_n)

— the instructions of one operation, with start-up and set-up cancelled out.
ops_per_n is how many operations the program performs per unit of n (for
bench_core_switch: 5 repetitions x 2 switches = 10).

    bench/common/callgrind.py build/bench/bench_core_switch --ops-per-n 10

With --workload ID it prints the figure as a benchmark record instead
({"workload": ID, "impl": "cio", "unit": "instr", ...}): bench/run.py runs
the programs listed in bench/common/callgrind.json that way, so the counts
land in latest.json and docs/BENCHMARKS.md next to the timings.

Stdlib only; needs valgrind.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def instructions(program, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        res = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              program, "--n", str(n)], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"{program} --n {n} under callgrind failed:\n{res.stderr[-2000:]}")
        with open(out) as f:
            for line in f:
                m = re.match(r"(?:summary|totals):\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    sys.exit("no instruction total in callgrind's output")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("program")
    p.add_argument("--ops-per-n", type=float, required=True)
    p.add_argument("--n1", type=int, default=10000)
    p.add_argument("--n2", type=int, default=60000)
    p.add_argument("--workload", help="print a JSON benchmark record with this workload id")
    p.add_argument("--quick", action="store_true", help="smaller sizes (n1=2000, n2=6000)")
    args = p.parse_args()
    if args.quick:
        args.n1, args.n2 = 2000, 6000
    i1 = instructions(args.program, args.n1)
    i2 = instructions(args.program, args.n2)
    per_op = (i2 - i1) / ((args.n2 - args.n1) * args.ops_per_n)
    if args.workload:
        print(json.dumps({"workload": args.workload, "impl": "cio", "value": round(per_op, 1),
                          "unit": "instr", "better": "lower"}))
        return
    print(f"{os.path.basename(args.program)}: {per_op:.1f} instructions per operation "
          f"(Ir {i1} at n={args.n1}, {i2} at n={args.n2})")


if __name__ == "__main__":
    main()
