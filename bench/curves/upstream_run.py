#!/usr/bin/python3
"""upstream_run.py - upstream Bert-VITS2 v2.3's own training (train_ms.run(): its dataset, bucket
sampler, DataLoader, checkpoint resume, AdamW/ExponentialLR, train_and_evaluate's step body,
train.log lines) in ONE process on the CPU, for the 500-step loss curves of issue 10
(bench/curves/run.sh). Nothing of upstream is copied: this script imports train_ms and calls
run(), with the multi-GPU bits replaced for one CPU process:

  - torch.distributed: init_process_group is a no-op, get_rank() 0, get_world_size() 1
    (DistributedBucketSampler then gets num_replicas=1, rank=0, as with one GPU);
  - DistributedDataParallel: a plain wrapper that only adds `.module` (one process: DDP's
    all-reduce of one rank is the identity); .cuda(), the WavLMLoss's .to(local_rank),
    torch.cuda.set_device and empty_cache are no-ops;
  - autocast: train.bf16_run is false here, so the nullcontext (CUDA's class would probe bf16);
  - SummaryWriter: records the scalars (tensorboard is not installed); the spectrogram/alignment
    images train_and_evaluate renders every log_interval are replaced by a 1x1 image (matplotlib
    per step would cost more than the step's smaller ops);
  - config.yml machinery (`from config import config`): a namespace with num_workers=1
    (upstream takes min(num_workers, cpu_count - 1) = 1 on this 2-core machine), spec_cache off
    (no .spec.pt written into the shared corpus), no base model download;
  - text: text/__init__.py is loaded from the upstream tree itself (cleaned_text_to_sequence),
    without its top-level init_openjtalk() / check_bert_models() calls (BERT downloads); the upstream-only imports are stubbed as in
    tests/ref/ddp_ref.py (import_upstream), which also fixes librosa's keyword-only mel() call
    and Debian torch 1.13's GELU backward (non-contiguous gradient).

Modes:
  init  --config C --out DIR    build the four networks exactly as run() does (torch.manual_seed
        (train.seed) then SynthesizerTrn / MultiPeriodDiscriminator with bv2's `--disc-widths small`
        widths (the golden data's, tests/ref/ddp_ref.reduced_mpd) / DurationDiscriminator /
        WavLMDiscriminator) and save them with upstream's utils.save_checkpoint as G_0.pth,
        D_0.pth, DUR_0.pth, WD_0.pth (iteration 1: resuming them starts at epoch 1, global step 0,
        as a fresh run). Both bv2 and this script start every run from these files.
  train --config C --init DIR --run DIR --seed S --steps N
        copies DIR's *_0.pth into the run folder (run() resumes them: skip_optimizer true, so fresh
        AdamW state), sets train.seed = S, and runs run() until global step N-1 has been logged;
        train.log in the run folder then has upstream's "[loss_disc, loss_gen, loss_fm, loss_mel,
        loss_dur, loss_kl, step, lr]" line for every step (log_interval 1 in C), and steps.tsv the
        step, its wall time and the losses from the scalars.

Python: a venv over Debian's python3-torch 1.13 with transformers==4.30.2, librosa==0.10.1,
scipy==1.11.4, numba==0.58.1 (bench/curves/run.sh makes build/curves-venv). UPSTREAM_DIR: the
upstream v2.3 tree. Run from the repository root (the config's filelists are relative to it).
"""
import argparse
import ast
import contextlib
import glob
import json
import logging
import os
import shutil
import sys
import time
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "ref"))
from ddp_ref import gelu, import_upstream, reduced_mpd  # noqa: E402

NETS = ("G", "D", "WD", "DUR")  # the order run() wraps them in DDP: net_g, net_d, net_wd, net_dur_disc


class StopRun(Exception):
    pass


class Writer:
    """SummaryWriter stand-in: keeps the last step's scalars."""

    def __init__(self, log_dir=None, **k):
        self.log_dir, self.scalars = log_dir, {}

    def add_scalar(self, tag, v, step):
        self.scalars[tag] = float(v)

    def add_image(self, *a, **k):
        pass

    def add_audio(self, *a, **k):
        pass

    def add_histogram(self, *a, **k):
        pass


class OneProcess(torch.nn.Module):
    """DistributedDataParallel of a single process: the module itself, reachable as .module."""

    def __init__(self, module, **k):
        super().__init__()
        self.module = module

    def forward(self, *a, **k):
        return self.module(*a, **k)


def golden_net_d_table():
    root = os.path.join(HERE, "..", "..")
    golden = os.environ.get("GOLDEN", os.path.join(root, "..", "shared", "golden"))
    m = json.load(open(os.path.join(golden, "manifest.json")))
    return [c for c in m["cases"] if c["name"] == "F01_train_step"][0]["config"]["net_d"]


def setup(upstream, config_path, model_dir):
    torch.nn.functional.gelu = gelu  # before transformers builds the WavLM (GELUActivation keeps F.gelu)
    tm = import_upstream(upstream)
    torch.set_float32_matmul_precision("highest")  # train_ms sets 'medium' at import (CUDA only)
    import data_utils
    import models
    import utils

    # text/__init__.py of the upstream tree itself (cleaned_text_to_sequence), into the stub package
    text = sys.modules["text"]
    # without its two top-level calls (init_openjtalk(), check_bert_models(): BERT downloads)
    path = os.path.join(upstream, "text", "__init__.py")
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call))]
    exec(compile(tree, path, "exec"), text.__dict__)
    data_utils.cleaned_text_to_sequence = text.cleaned_text_to_sequence

    cfg = sys.modules["config"].config
    cfg.train_ms_config = types.SimpleNamespace(env={}, config_path=config_path, model="", num_workers=1,
                                                spec_cache=False, keep_ckpts=0,
                                                base={"use_base_model": False})
    cfg.dataset_path = model_dir
    for k, v in (("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500"), ("WORLD_SIZE", "1"), ("RANK", "0"),
                 ("LOCAL_RANK", "0")):
        os.environ.setdefault(k, v)
    tm.dist = types.SimpleNamespace(init_process_group=lambda *a, **k: None, get_rank=lambda: 0,
                                    get_world_size=lambda: 1)
    torch.cuda.set_device = lambda *a, **k: None
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.cuda = lambda self, *a, **k: self
    tm.DDP = OneProcess

    class WavLMLoss(tm.WavLMLoss):  # train_and_evaluate: WavLMLoss(...).to(local_rank), an int = cuda:N
        def to(self, *a, **k):
            return self if a and isinstance(a[0], int) else super().to(*a, **k)
    tm.WavLMLoss = WavLMLoss
    torch.cuda.empty_cache = lambda: None
    tm.autocast = lambda *a, **k: contextlib.nullcontext()
    tm.SummaryWriter = Writer
    table = golden_net_d_table()
    tm.MultiPeriodDiscriminator = lambda use_spectral_norm=False: reduced_mpd(models, table)
    tiny = lambda *a, **k: __import__("numpy").zeros((1, 1, 3), dtype="uint8")  # noqa: E731
    utils.plot_spectrogram_to_numpy = tiny
    utils.plot_alignment_to_numpy = tiny
    sys.argv = [os.path.join(upstream, "train_ms.py"), "-c", config_path, "-m", model_dir]
    return tm, utils


def write_config(src, dst, seed=None):
    c = json.load(open(src))
    if seed is not None:
        c["train"]["seed"] = seed
    if c["train"].get("bf16_run"):
        sys.exit("upstream_run.py: %s has train.bf16_run true; the PyTorch side runs fp32 only" % src)
    with open(dst, "w") as f:
        json.dump(c, f, indent=1)


def cmd_init(a, upstream):
    os.makedirs(a.out, exist_ok=True)
    cfg = os.path.join(a.out, "config.json")
    write_config(a.config, cfg)
    tm, utils = setup(upstream, cfg, os.path.join(a.out, "_build"))
    nets = []

    def capture(module, **k):
        nets.append(module)
        if len(nets) == 4:
            raise StopRun
        return OneProcess(module)
    tm.DDP = capture
    try:
        tm.run()
    except StopRun:
        pass
    shutil.rmtree(os.path.join(a.out, "_build"), ignore_errors=True)
    hps = utils.get_hparams_from_file(cfg)
    for name, net in zip(NETS, nets):
        opt = torch.optim.AdamW(filter(lambda p: p.requires_grad, net.parameters()), hps.train.learning_rate,
                                betas=hps.train.betas, eps=hps.train.eps)
        utils.save_checkpoint(net, opt, hps.train.learning_rate, 1, os.path.join(a.out, "%s_0.pth" % name))
        print("init: %s_0.pth %d parameters" % (name, sum(p.numel() for p in net.parameters())))


def cmd_train(a, upstream):
    if os.path.exists(a.run):
        shutil.rmtree(a.run)
    os.makedirs(a.run)
    for n in NETS:
        shutil.copy(os.path.join(a.init, "%s_0.pth" % n), a.run)
    cfg = os.path.join(a.run, "config.json")
    write_config(a.config, cfg, a.seed)
    tm, utils = setup(upstream, cfg, a.run)
    out = open(os.path.join(a.run, "steps.tsv"), "w")
    out.write("step\tseconds\tloss_mel\tloss_kl\tloss_dur\tloss_g_total\tloss_d_total\n")
    summarize = utils.summarize
    t = [time.time()]

    def summarize_and_stop(writer, global_step, scalars={}, **k):
        summarize(writer, global_step, scalars=scalars, **k)
        if not scalars:  # evaluate()'s call
            return
        now = time.time()
        s = writer.scalars
        out.write("%d\t%.3f\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\n" % (global_step, now - t[0], s["loss/g/mel"], s["loss/g/kl"],
                                                              s["loss/g/dur"], s["loss/g/total"], s["loss/d/total"]))
        out.flush()
        t[0] = now
        if global_step >= a.steps - 1:
            raise StopRun
    tm.utils.summarize = summarize_and_stop
    try:
        tm.run()
    except StopRun:
        pass
    out.close()
    for f in glob.glob(os.path.join(a.run, "*_0.pth")):  # the copies of the initial checkpoints
        os.remove(f)
    logging.shutdown()
    print("train: seed %d, %d steps in %s" % (a.seed, a.steps, a.run))
    os._exit(0)  # the DataLoader's persistent worker would otherwise keep the process alive


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("train")
    p.add_argument("--config", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--run", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    a = ap.parse_args()
    upstream = os.environ.get("UPSTREAM_DIR")
    if not upstream or not os.path.exists(os.path.join(upstream, "train_ms.py")):
        sys.exit("upstream_run.py: set UPSTREAM_DIR to an upstream Bert-VITS2 v2.3 tree")
    upstream = os.path.abspath(upstream)
    (cmd_init if a.cmd == "init" else cmd_train)(a, upstream)


if __name__ == "__main__":
    main()
