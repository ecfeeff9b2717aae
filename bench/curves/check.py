#!/usr/bin/python3
"""check.py - is bv2's loss curve inside the band of the PyTorch seeds? (issue 10, "Beyond one step")

    python3 bench/curves/check.py [--runs build/curves/runs] [--window 20] [--other bv2-bf16]

Reads the train.log of every run folder under --runs (bv2 and upstream's train_ms write the same
"[loss_disc, loss_gen, loss_fm, loss_mel, loss_dur, loss_kl, step, lr]" line every log_interval,
which bench/curves/run.sh sets to 1): torch-s<seed> are the PyTorch runs, bv2-fp32 (and bv2-bf16)
bv2's. Every curve is smoothed by the same trailing moving average of --window steps (the first
steps average what there is); the band at a step is min..max of the smoothed PyTorch curves.
Only the steps every run reached are compared (the runs may have been stopped early).

Prints, per loss (loss_mel, loss_kl, loss_dur), the fraction of those steps where bv2's smoothed
curve lies inside the band, and the mean of each curve over the last 100 compared steps. Exit 0
(it reports; it does not judge). plot.py draws the same curves.
For scale, the same fraction leave-one-out over the four runs (3 seeds + bv2-fp32): each run inside
the min..max of the other three. A run that is statistically just another seed lies inside the
range of three others at about half the steps ((n-1)/(n+1) for n = 3), so "inside at 100% of
steps" is not what equal training looks like; bv2's fraction close to the PyTorch seeds' own is.
"""
import argparse
import glob
import os
import re
import sys
from datetime import datetime

import numpy as np

LOSSES = {"loss_mel": 3, "loss_dur": 4, "loss_kl": 5}  # positions in train.log's list line
LINE = re.compile(r"^(\S+ \S+)\t[^\t]*\tINFO\t\[(.*)\]\s*$")


def read_log(path):
    """{step: (time, [8 values])} from a train.log (the last line of a step wins)."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            v = [float(x) for x in m.group(2).split(",")]
            if len(v) != 8:
                continue
            t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out[int(v[6])] = (t, v)
    return out


def smooth(x, w):
    c = np.cumsum(np.insert(np.asarray(x, np.float64), 0, 0.0))
    n = np.arange(1, len(x) + 1)
    lo = np.maximum(n - w, 0)
    return (c[n] - c[lo]) / (n - lo)


def load_runs(runs_dir):
    runs = {}
    for d in sorted(glob.glob(os.path.join(runs_dir, "*"))):
        log = os.path.join(d, "train.log")
        if os.path.isdir(d) and os.path.exists(log):
            r = read_log(log)
            if r:
                runs[os.path.basename(d)] = r
    return runs


def step_seconds(run):
    """Median wall seconds between consecutive logged steps (step 0 and evaluation excluded)."""
    steps = sorted(run)
    dt = [run[b][0] - run[a][0] for a, b in zip(steps[1:], steps[2:]) if b == a + 1]
    return float(np.median(dt)) if dt else float("nan")


def cpu_per_step(runs_dir, name):
    """CPU seconds per step from watch.sh's <name>.cpu samples ("wall_s cpu_s steps"): the slope between
    the first sample past step 2 (start-up and step 0's evaluation excluded) and the last."""
    try:
        rows = [[float(x) for x in line.split()] for line in open(os.path.join(runs_dir, name + ".cpu"))]
    except OSError:
        return float("nan")
    rows = [r for r in rows if len(r) == 3 and r[2] >= 2]
    if len(rows) < 2 or rows[-1][2] <= rows[0][2]:
        return float("nan")
    return (rows[-1][1] - rows[0][1]) / (rows[-1][2] - rows[0][2])


def curves(runs, window, names):
    """{loss: {run: smoothed array}} over the steps 0..n-1 that every named run has."""
    n = min(max(runs[k]) + 1 for k in names)
    for k in names:
        missing = [s for s in range(n) if s not in runs[k]]
        if missing:
            sys.exit("check.py: run %s lacks steps %s (log_interval must be 1)" % (k, missing[:5]))
    return n, {loss: {k: smooth([runs[k][s][1][i] for s in range(n)], window) for k in names}
               for loss, i in LOSSES.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="build/curves/runs")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--other", default="bv2-bf16", help="a second bv2 run to check too, when present")
    a = ap.parse_args()
    runs = load_runs(a.runs)
    seeds = [k for k in runs if k.startswith("torch-s")]
    ours = [k for k in ("bv2-fp32", a.other) if k in runs]
    if len(seeds) < 2 or not ours:
        sys.exit("check.py: need >= 2 torch-s<seed> runs and bv2-fp32 under %s (found %s)" % (a.runs, sorted(runs)))
    n, cs = curves(runs, a.window, seeds + ours)
    print("check: %d steps compared (every run reached them), moving average of %d steps, band = min..max of %s"
          % (n, a.window, ", ".join(seeds)))
    for k in seeds + ours:
        print("  %-10s %4d steps logged, %.2f CPU s per step (one thread), median wall %.2f s per step (shared "
              "machine)" % (k, max(runs[k]) + 1, cpu_per_step(a.runs, k), step_seconds(runs[k])))
    if "bv2-bf16" in ours and runs["bv2-bf16"][0][1][:6] == runs["bv2-fp32"][0][1][:6]:
        print("  WARNING: bv2-bf16's step-0 losses equal bv2-fp32's bit for bit: that bv2 computed nothing in bf16 "
              "(no op honours ctx->autocast yet?)")
    tail = slice(max(0, n - 100), n)
    for loss, c in cs.items():
        lo = np.min([c[k] for k in seeds], axis=0)
        hi = np.max([c[k] for k in seeds], axis=0)
        for k in ours:
            inside = (c[k] >= lo) & (c[k] <= hi)
            print("%-8s %-9s inside the band at %4d of %4d steps (%.1f%%); last-100-step means: %s %.3f, "
                  "torch seeds %s" % (loss, k, int(inside.sum()), n, 100.0 * inside.mean(), k, c[k][tail].mean(),
                                      " ".join("%.3f" % c[s][tail].mean() for s in seeds)))
        # What "inside" means for a run that is just another seed: with bv2-fp32 as a fourth run, each
        # run's fraction inside the min..max of the other three (an exchangeable fourth of four lies
        # inside the range of the other three half of the time: 2/4 ranks are interior).
        pool = seeds + ["bv2-fp32"]
        loo = []
        for k in pool:
            others = [c[j] for j in pool if j != k]
            loo.append("%s %.0f%%" % (k, 100.0 * np.mean((c[k] >= np.min(others, axis=0)) &
                                                          (c[k] <= np.max(others, axis=0)))))
        print("%-8s leave-one-out, each run inside the band of the other %d: %s" % (loss, len(pool) - 1,
                                                                                  ", ".join(loo)))


if __name__ == "__main__":
    main()
