#!/usr/bin/python3
"""ops_torch.py - the PyTorch side of `make bench`: times the shapes build/bv2-bench times, with the
same batch, forward (no_grad) and forward+backward (grads of input and parameters, d out = 1), median
of the same number of runs after one warm-up, and prints "ROW <name> <fwd> <fwd+bwd> <min fwd>
<min fwd+bwd>" lines (ms) for bench/run.sh to put beside ours.

    ops_torch.py [SPECS_FILE]   shapes as printed by `bv2-bench --specs` (default: run build/bv2-bench)

Threads: BENCH_THREADS (default 2), the count run.sh also gives our side.
"""
import os
import statistics
import subprocess
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print(f"ops_torch.py: PyTorch not available ({e}); skipping the PyTorch side "
          "(Debian: apt-get install python3-torch)")
    sys.exit(0)


def read_specs(argv):
    if len(argv) > 1:
        with open(argv[1]) as f:
            text = f.read()
    else:
        exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bv2-bench")
        text = subprocess.run([exe, "--specs"], check=True, capture_output=True, text=True).stdout
    specs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        d = dict(kv.split("=", 1) for kv in line.split())
        for k in d:
            if k not in ("name", "kind"):
                d[k] = int(float(d[k]))
        specs.append(d)
    return specs


def rand(*shape, grad=False):
    t = (torch.rand(*shape) - 0.5) * 0.2
    return t.requires_grad_(grad)


def setup(s):
    """Inputs and a closure computing the op, as bv2-bench's setup/apply."""
    k = s["kind"]
    B, Cin, Cout, T, W, K = s["B"], s["Cin"], s["Cout"], s["T"], s["W"], s["K"]
    S, P, D, G = s["S"], s["P"], s["D"], s["G"]
    if k in ("sgemm", "matmul"):
        a, b = rand(B, s["M"], s["Kd"], grad=True), rand(B, s["Kd"], s["N"], grad=True)
        if k == "sgemm":
            a2, b2 = a[0].detach(), b[0].detach()
            return [], lambda: torch.mm(a2, b2)
        return [a, b], lambda: torch.matmul(a, b)
    if k == "weight_norm":
        g, v = rand(Cout, 1, 1, 1, grad=True), rand(Cout, Cin, K, W, grad=True)
        return [g, v], lambda: torch._weight_norm(v, g, 0)
    if k == "conv_transpose1d":
        x, w, b = rand(B, Cin, T, grad=True), rand(Cin, Cout // G, K, grad=True), rand(Cout, grad=True)
        return [x, w, b], lambda: F.conv_transpose1d(x, w, b, S, P, 0, G, D)
    if k == "conv1d":
        x, w, b = rand(B, Cin, T, grad=True), rand(Cout, Cin // G, K, grad=True), rand(Cout, grad=True)
        return [x, w, b], lambda: F.conv1d(x, w, b, S, P, D, G)
    if k == "conv2d":
        x, w, b = rand(B, Cin, T, W, grad=True), rand(Cout, Cin // G, K, 1, grad=True), rand(Cout, grad=True)
        return [x, w, b], lambda: F.conv2d(x, w, b, (S, 1), (P, 0), (D, 1), G)
    raise ValueError(f"unknown kind {k}")


def time_op(ins, fn, backward):
    """(median, min) ms after one warm-up; 3..9 runs, stopping after 1.5 s once 3 are done (as bv2-bench)."""
    times, spent, it = [], 0.0, -1
    while it < 9 and (len(times) < 3 or spent < 1500):
        for t in ins:
            t.grad = None
        t0 = time.perf_counter()
        if backward:
            y = fn()
            y.backward(torch.ones_like(y))
        else:
            with torch.no_grad():
                fn()
        dt = (time.perf_counter() - t0) * 1e3
        if it >= 0:
            times.append(dt)
            spent += dt
        it += 1
    return statistics.median(times), min(times)


def bench_lstm(rows):
    """HOOK for lstm.c's owner: mirror bv2-bench's bench_lstm rows here: append
    (name, time_op(ins, fn, False), time_op(ins, fn, True))."""


def main():
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    specs = read_specs(sys.argv)
    print(f"PyTorch {torch.__version__}, {threads} threads, batch as bv2-bench")
    print(f"{'op':34s} {'fwd ms':>9s} {'fwd+bwd ms':>10s}")
    rows = []
    for s in specs:
        ins, fn = setup(s)
        f = time_op(ins, fn, False)
        fb = f if s["kind"] == "sgemm" else time_op(ins, fn, True)
        rows.append((s["name"], f, fb))
        print(f"{s['name']:34s} {f[0]:9.3f} {fb[0]:10.3f}", flush=True)
    bench_lstm(rows)
    for name, f, fb in rows:
        print(f"ROW {name} {f[0]:.4f} {fb[0]:.4f} {f[1]:.4f} {fb[1]:.4f}")


if __name__ == "__main__":
    main()
