#!/usr/bin/python3
"""check_ckpt_with_upstream.py - reference check of the training checkpoints `bv2 train` writes
(src/train/checkpoint.c), with the real torch.load and upstream Bert-VITS2's own
utils.load_checkpoint. NOT run by `make test` (the build needs no Python); run it by hand after
changing src/train/checkpoint.c, src/io/pickle.c or src/io/pth.c:

    build/bv2 train -c config.json -m /tmp/run --max-steps 1          # writes G_0/D_0/WD_0/DUR_0.pth
    UPSTREAM_DIR=/work/upstream /usr/bin/python3 tests/ref/check_ckpt_with_upstream.py /tmp/run [--step N]

For each of G_, D_, WD_, DUR_<step>.pth (default: the newest G_ step) it
  1. torch.load()s the file and checks upstream's layout: {'model': OrderedDict, 'iteration': int,
     'optimizer': AdamW state_dict (torch 1.13 keys), 'learning_rate': float}, float32 tensors;
  2. builds the network exactly as train_ms.run() does from <model_dir>/config.json (SynthesizerTrn
     with freeze_*_bert applied, MultiPeriodDiscriminator, DurationDiscriminator, WavLMDiscriminator)
     and its AdamW over the trainable parameters, and calls upstream's
     utils.load_checkpoint(path, net, optim, skip_optimizer=False);
  3. requires that load_checkpoint logged no missing key, that every state_dict tensor now equals
     the file's bit for bit, that the optimizer's state_dict equals the file's, and that one AdamW
     step with random gradients runs on the loaded state.
A D_*.pth written with `--disc-widths small` cannot load into upstream's full-width
MultiPeriodDiscriminator; the script says so and checks only step 1 for it. Exit status 0 when
everything passes. Needs Debian's python3-torch; numba, scipy and huggingface_hub (imported by
upstream modules but not used here) are stubbed when absent.
"""
import argparse
import collections
import glob
import json
import logging
import os
import re
import sys
import types

import torch

TORCH113_GROUP_KEYS = ["lr", "betas", "eps", "weight_decay", "amsgrad", "foreach", "maximize", "capturable",
                       "initial_lr", "params"]


def load_text_symbols(upstream):
    """models.py does `from text import symbols, num_tones, num_languages`; text/__init__.py would
    also run pyopenjtalk and download BERT models at import, so only text/symbols.py is loaded."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("text.symbols", os.path.join(upstream, "text", "symbols.py"))
    sym = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sym)
    text = types.ModuleType("text")
    text.__path__ = [os.path.join(upstream, "text")]
    for name in ["symbols", "num_tones", "num_languages"]:
        setattr(text, name, getattr(sym, name))
    sys.modules["text"] = text
    sys.modules["text.symbols"] = sym
    return sym.symbols


def stub_missing_modules():
    """Upstream imports numba (monotonic_align), scipy.io.wavfile and huggingface_hub (utils) at
    module level; none of them is used by the code paths this script calls."""
    try:
        import numba  # noqa: F401
    except ImportError:
        nb = types.ModuleType("numba")

        class _T:
            def __getitem__(self, _):
                return self

            def __call__(self, *a, **k):
                return self

        nb.jit = lambda *a, **k: (lambda f: f)
        nb.void = nb.int32 = nb.float32 = _T()
        sys.modules["numba"] = nb
    try:
        import scipy.io.wavfile  # noqa: F401
    except ImportError:
        for name in ["scipy", "scipy.io", "scipy.io.wavfile"]:
            sys.modules[name] = types.ModuleType(name)
        sys.modules["scipy.io.wavfile"].read = None
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        hf = types.ModuleType("huggingface_hub")
        hf.hf_hub_download = None
        sys.modules["huggingface_hub"] = hf


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def check_layout(path, ck, problems):
    if not isinstance(ck, dict) or list(ck.keys()) != ["model", "iteration", "optimizer", "learning_rate"]:
        problems.append(f"{path}: top-level keys {list(ck.keys()) if isinstance(ck, dict) else type(ck)}")
        return
    if not isinstance(ck["model"], collections.OrderedDict):
        problems.append(f"{path}: 'model' is a {type(ck['model']).__name__}, not an OrderedDict")
    if not hasattr(ck["model"], "_metadata"):
        problems.append(f"{path}: 'model' has no _metadata")
    for k, v in ck["model"].items():
        if not isinstance(v, torch.Tensor) or v.dtype != torch.float32:
            problems.append(f"{path}: model['{k}'] is not a float32 tensor")
    if type(ck["iteration"]) is not int:
        problems.append(f"{path}: 'iteration' is a {type(ck['iteration']).__name__}")
    if type(ck["learning_rate"]) is not float:
        problems.append(f"{path}: 'learning_rate' is a {type(ck['learning_rate']).__name__}")
    opt = ck["optimizer"]
    if not isinstance(opt, dict) or list(opt.keys()) != ["state", "param_groups"]:
        problems.append(f"{path}: 'optimizer' is not an optimizer state_dict")
        return
    groups = opt["param_groups"]
    if len(groups) != 1 or list(groups[0].keys()) != TORCH113_GROUP_KEYS:
        problems.append(f"{path}: param_groups keys {[list(g.keys()) for g in groups]}")
    for i, s in opt["state"].items():
        if list(s.keys()) != ["step", "exp_avg", "exp_avg_sq"] or s["step"].dtype != torch.float32 or s["step"].dim():
            problems.append(f"{path}: optimizer state[{i}] is not torch 1.13's AdamW state")
            break


def build_nets(hps, symbols):
    """The four networks and optimizers exactly as train_ms.run() builds them."""
    from models import SynthesizerTrn, MultiPeriodDiscriminator, DurationDiscriminator, WavLMDiscriminator

    noise = "use_noise_scaled_mas" in hps.model.keys() and hps.model.use_noise_scaled_mas is True
    net_g = SynthesizerTrn(len(symbols), hps.data.filter_length // 2 + 1, hps.train.segment_size // hps.data.hop_length,
                           n_speakers=hps.data.n_speakers, mas_noise_scale_initial=0.01 if noise else 0.0,
                           noise_scale_delta=2e-6 if noise else 0.0, **hps.model)
    for flag, sub in [("freeze_ZH_bert", "bert_proj"), ("freeze_EN_bert", "en_bert_proj"),
                      ("freeze_JP_bert", "ja_bert_proj")]:
        if getattr(hps.train, flag, False):
            for p in getattr(net_g.enc_p, sub).parameters():
                p.requires_grad = False
    nets = {"G": net_g, "D": MultiPeriodDiscriminator(hps.model.use_spectral_norm),
            "WD": WavLMDiscriminator(hps.model.slm.hidden, hps.model.slm.nlayers, hps.model.slm.initial_channel)}
    if "use_duration_discriminator" in hps.model.keys() and hps.model.use_duration_discriminator is True:
        nets["DUR"] = DurationDiscriminator(hps.model.hidden_channels, hps.model.hidden_channels, 3, 0.1,
                                            gin_channels=hps.model.gin_channels if hps.data.n_speakers != 0 else 0)
    optims = {k: torch.optim.AdamW(filter(lambda p: p.requires_grad, n.parameters()), hps.train.learning_rate,
                                   betas=hps.train.betas, eps=hps.train.eps) for k, n in nets.items()}
    return nets, optims


def same_tree(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a.keys()) == list(b.keys()) and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same_tree(x, y) for x, y in zip(a, b))
    return a == b


def check_net(utils, kind, path, net, optim, ck, problems):
    handler = Collect()
    utils.logger.addHandler(handler)
    try:
        utils.load_checkpoint(path, net, optim, skip_optimizer=False)
    except Exception as e:  # noqa: BLE001 - report what upstream's loader raised
        problems.append(f"{path}: utils.load_checkpoint raised {type(e).__name__}: {e}")
        return
    finally:
        utils.logger.removeHandler(handler)
    missing = [r.getMessage() for r in handler.records if "is not in the checkpoint" in r.getMessage()]
    if missing:
        problems.append(f"{path}: load_checkpoint: {len(missing)} keys not loaded, e.g. {missing[0]}")
    sd = net.state_dict()
    if list(sd.keys()) != list(ck["model"].keys()):
        problems.append(f"{path}: key order differs from {kind}'s state_dict")
    bad = [k for k in sd if k in ck["model"] and not torch.equal(sd[k], ck["model"][k])]
    if bad:
        problems.append(f"{path}: {len(bad)} tensors differ after loading, e.g. {bad[0]}")
    if not same_tree(optim.state_dict(), ck["optimizer"]):
        problems.append(f"{path}: the loaded optimizer's state_dict differs from the file's")
    for p in net.parameters():
        if p.requires_grad:
            p.grad = torch.randn_like(p)
    optim.step()
    print(f"  {os.path.basename(path)}: upstream load_checkpoint loaded {len(sd)} tensors and "
          f"{len(ck['optimizer']['state'])} optimizer states; one AdamW step ran")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--config", help="default: <model_dir>/config.json")
    ap.add_argument("--step", type=int, help="default: the newest G_<step>.pth")
    args = ap.parse_args()
    upstream = os.environ.get("UPSTREAM_DIR", "/work/upstream")
    sys.path.insert(0, upstream)
    stub_missing_modules()
    symbols = load_text_symbols(upstream)
    import utils

    hps = utils.get_hparams_from_file(args.config or os.path.join(args.model_dir, "config.json"))
    step = args.step
    if step is None:
        steps = [int(m.group(1)) for f in glob.glob(os.path.join(args.model_dir, "G_*.pth"))
                 if (m := re.fullmatch(r"G_(\d+)\.pth", os.path.basename(f)))]
        if not steps:
            sys.exit(f"no G_<step>.pth in {args.model_dir}")
        step = max(steps)
    print(f"torch {torch.__version__}, upstream {upstream}, step {step}")
    torch.manual_seed(0)
    nets, optims = build_nets(hps, symbols)
    problems = []
    for kind in ["G", "D", "WD", "DUR"]:
        path = os.path.join(args.model_dir, f"{kind}_{step}.pth")
        if not os.path.exists(path):
            if kind in nets:
                problems.append(f"{path}: missing")
            continue
        ck = torch.load(path, map_location="cpu")
        check_layout(path, ck, problems)
        net = nets[kind]
        shapes_fit = all(k in ck["model"] and ck["model"][k].shape == v.shape for k, v in net.state_dict().items())
        if kind == "D" and not shapes_fit:
            print(f"  {os.path.basename(path)}: torch.load ok; not upstream's MultiPeriodDiscriminator widths "
                  f"(bv2 --disc-widths small?): load_checkpoint not compared")
            continue
        check_net(utils, kind, path, net, optims[kind], ck, problems)
    for p in problems:
        print("FAIL", p)
    print("all checks passed" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
