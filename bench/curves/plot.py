#!/usr/bin/python3
"""plot.py - PNG loss curves: bv2 against the band of the PyTorch seeds (issue 10, "Beyond one step")

    build/curves-venv/bin/python bench/curves/plot.py [--runs build/curves/runs] [--out docs/curves]
        [--window 20] [--bf16]

One PNG per loss (loss_mel, loss_kl, loss_dur): the band min..max of the PyTorch runs' (torch-s<seed>)
curves, each seed's curve thin, bv2-fp32 bold, all smoothed by the same trailing moving average of
--window steps (check.py's, which prints the in-band fractions), over the steps every run reached.
--bf16: <out>/bf16_<loss>.png instead, with bv2-bf16 added (bv2 with train.bf16_run true, same
initial checkpoints) beside bv2-fp32. Needs matplotlib (the venv run.sh makes has it).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import curves, load_runs  # noqa: E402

import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="build/curves/runs")
    ap.add_argument("--out", default="docs/curves")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    runs = load_runs(a.runs)
    seeds = [k for k in runs if k.startswith("torch-s")]
    ours = ["bv2-fp32"] + (["bv2-bf16"] if a.bf16 else [])
    missing = [k for k in ours if k not in runs]
    if len(seeds) < 2 or missing:
        sys.exit("plot.py: need >= 2 torch-s<seed> runs and %s under %s (found %s)" % (ours, a.runs, sorted(runs)))
    n, cs = curves(runs, a.window, seeds + ours)
    os.makedirs(a.out, exist_ok=True)
    x = np.arange(n)
    style = {"bv2-fp32": dict(color="C3", lw=2.0), "bv2-bf16": dict(color="C2", lw=2.0, ls="--")}
    for loss, c in cs.items():
        lo = np.min([c[k] for k in seeds], axis=0)
        hi = np.max([c[k] for k in seeds], axis=0)
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        ax.fill_between(x, lo, hi, color="C0", alpha=0.25, lw=0,
                        label="PyTorch (upstream train_ms), min..max of %d seeds" % len(seeds))
        for k in seeds:
            ax.plot(x, c[k], color="C0", lw=0.6, alpha=0.7)
        for k in ours:
            inside = 100.0 * np.mean((c[k] >= lo) & (c[k] <= hi))
            ax.plot(x, c[k], label="%s (inside the band at %.0f%% of steps)" % (k, inside), **style[k])
        if loss == "loss_kl":  # falls from ~90 to ~3 in 40 steps: the rest needs a log axis
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("%s, moving average of %d steps" % (loss, a.window))
        ax.set_title("%s: demo config (data/demo), batch 4, same initial checkpoints" % loss)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
        fig.tight_layout()
        path = os.path.join(a.out, ("bf16_" if a.bf16 else "") + loss + ".png")
        fig.savefig(path)
        plt.close(fig)
        print("plot: %s (%d steps)" % (path, n))


if __name__ == "__main__":
    main()
