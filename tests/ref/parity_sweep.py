#!/usr/bin/python3
"""parity_sweep.py - reference data for the multi-seed parity sweep (issue 10, "Parity must hold, on
more than one seed"): ONE whole train_ms.train_and_evaluate step of upstream Bert-VITS2 (the golden
case F01's step: generator, MPD, duration discriminator, WavLM discriminator, every loss, backward,
AdamW, grad norms) on several seeds and two model configs, each run twice with upstream's own code:
in float32 (the reference) and in float64 (the same modules after .double(), same initial
parameters, batch and random draws), so that |fp32 - fp64| says how far torch's own fp32 strays on
that seed. NOT run by `make test`; tests/test_parity.c (`make parity`) reads what it writes.

    UPSTREAM_DIR=<Bert-VITS2 checkout> GOLDEN=../shared/golden \\
        build/parity-venv/bin/python tests/ref/parity_sweep.py [--out build/parity] [--seeds 1-8]
        [--configs A,B] [--golden-check]
    (or `make parity-ref`, which makes the venv and runs this)

Configs (dimensions, tiny WavLM and reduced-width discriminators of golden F01, read from the golden
manifest's F01 config): A = F01's own (resblock "1", use_transformer_flow true); B = resblock "2"
(dilations [1,3] x 3), use_transformer_flow false (ResidualCouplingBlock). Per seed s: fresh
upstream initialisation under torch.manual_seed(s) (the parameters upstream initialises to
constants - flow `post` convs, SDP ElementwiseAffine m/logs, ConvFlow proj - perturbed with
N(0, 0.05) as F01's perturbed_after_init), a new batch of two utterances (random symbol/tone/
language ids with blanks interspersed as add_blank does, 16-bit-quantised multi-sine audio,
spec = upstream spectrogram_torch, BERT features N(0,1), zero padding as TextAudioSpeakerCollate),
and new random draws (torch.Generator seeded s, recorded and replayed in the fp64 run).

Output (under --out): manifest.json in the golden manifest's format with one case per (config,
seed), named P<config>_s<seed> (cases already listed there by an earlier run stay unless remade); <case>.safetensors in golden F01's layout (in.*, param.<net>.*,
noise.NNN.<fn>, fwd.*, dstep./wdstep./gstep. losses and grad norms, grad.<net>.<key>,
after.<net>.<key> for all four nets including net_g, lr.after_epoch1); <case>.fp64.safetensors with
the same result names (fwd.*, losses, grad.*, after.*, lr.*) from the float64 run, all F64;
wavlm_tiny -> the golden's (symlink). The manifest entry carries F01's tolerance and
tolerance_groups (the comparison's floor), seed, config label, the MAS decision margins of both
runs and whether the fp32 and fp64 runs took the same alignment and slice.

Kink alternatives: every F.leaky_relu input of both runs is recorded; an element within
KINK_MARGIN x torch's own fp32 error (that input's max|x32 - x64|) of zero may fall on either side
in another fp32 implementation, and its gradient then takes the other slope. For each such element
(closest first, at most MAX_KINKS) both runs are repeated with that one element on its other linear
piece: <case>.kink<k>.safetensors / .fp64.safetensors (results only), listed in the manifest entry's
kink_alternatives (call number, flat index, x in fp64, torch's fp32 error there).

The float64 run: torch.set_default_dtype(float64), every module .double() (net_g, net_d,
net_dur_disc, net_wd, the WavLMLoss with its WavLM and Resample kernel), inputs and replayed draws
as float64, and Tensor.float() made the identity on float64 tensors (train_ms and losses.py call
.float() on y_hat and the discriminator outputs, which would otherwise run those parts in fp32).
The mel filterbank (librosa) and the Resample kernel are float32 constants in both runs (upstream
casts them); the Hann window is computed in the run's dtype; monotonic_align casts its input to
float32 in both (upstream code).

--golden-check: first re-runs golden F01 itself (its parameters, batch and draws) through this
script's fp32 path and reports the largest difference from the stored F01 results (validates the
harness), and adds that run (and its fp64 twin) as case PA_golden; plus case PA_ddp_r1: F01's
parameters on the batch and draws ddp_ref.py gives rank 1 (another seed of the golden setup).

Needs Debian's python3-torch 1.13 / python3-torchaudio 0.13 and a venv with transformers==4.30.2,
librosa==0.10.1, scipy==1.11.4, numba==0.58.1 (tests/ref/parity_ref.sh makes it). Upstream-only
imports are stubbed as in ddp_ref.py; GELU's backward is given a contiguous gradient (Debian torch
1.13 bug, shared/NOTES.md). Runs with torch.set_num_threads(1).
"""
import argparse
import copy
import json
import os
import re
import sys
import tempfile
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ddp_ref import (BATCH_ORDER, gelu, import_upstream, reduced_mpd, second_batch, st_read, st_write,  # noqa: E402
                     train_one_batch)

NETS = ("net_g", "net_d", "net_dur_disc", "net_wd")
KINK_MARGIN = 2.0  # |x| <= 2 x torch's own fp32 error of that leaky_relu input: "near its kink"
MAX_KINKS = 4
PERTURB = re.compile(r"^(flow\.flows\.\d+\.post\.(weight|bias)|sdp\.(post_)?flows\.\d+\.(m|logs|proj\.weight|proj\.bias))$")
FWD_NAMES = ["y_hat", "l_length", "attn", "ids_slice", "x_mask", "z_mask", ("z", "z_p", "m_p", "logs_p", "m_q", "logs_q"),
             ("hidden_x", "logw", "logw_", "logw_sdp"), "g"]


# ---------------------------------------------------------------- recorded draws

class Draws:
    """torch.randn_like / randn / rand replaced: draw from a seeded generator and record (fp32 run),
    or replay the record in the run's dtype (fp64 run, golden check)."""

    def __init__(self, seed=None, replay=None):
        self.gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.replay = list(replay) if replay is not None else None
        self.rec = []
        self.orig = (torch.randn_like, torch.randn, torch.rand)

    def _next(self, fn, shape, dtype):
        if self.replay is not None:
            name, v = self.replay.pop(0)
            assert name.endswith(fn) and tuple(v.shape) == tuple(shape), (name, fn, v.shape, shape)
            self.rec.append((fn, v))
            return torch.from_numpy(np.array(v)).to(dtype)
        draw = self.orig[2] if fn == "rand" else self.orig[1]
        v = draw(tuple(shape), generator=self.gen, dtype=torch.float32)
        self.rec.append((fn, v.numpy().copy()))
        return v.to(dtype)

    def install(self):
        def shape_of(a):
            return tuple(a[0]) if len(a) == 1 and isinstance(a[0], (list, tuple, torch.Size)) else tuple(a)

        torch.randn_like = lambda t, *a, **k: self._next("randn_like", t.shape, t.dtype)
        torch.randn = lambda *a, **k: self._next("randn", shape_of(a), k.get("dtype") or torch.get_default_dtype())
        torch.rand = lambda *a, **k: self._next("rand", shape_of(a), k.get("dtype") or torch.get_default_dtype())

    def uninstall(self):
        torch.randn_like, torch.randn, torch.rand = self.orig


class Wrap(torch.nn.Module):
    """net_g as train_ms sees it (net_g.module.<attr>: DDP in upstream); records its outputs."""

    def __init__(self, m, sink):
        super().__init__()
        self.module, self.sink = m, sink

    def forward(self, *a, **k):
        r = self.module(*a, **k)
        for name, v in zip(FWD_NAMES, r):
            if isinstance(name, tuple):
                for n2, v2 in zip(name, v):
                    self.sink["fwd." + n2] = v2
            else:
                self.sink["fwd." + name] = v
        return r


# ---------------------------------------------------------------- one step of upstream

class Upstream:
    def __init__(self, upstream, golden_dir):
        self.train_ms = import_upstream(upstream)
        torch.set_float32_matmul_precision("highest")  # train_ms sets 'medium' (CUDA only) at import
        import commons
        import losses as up_losses
        import models
        import monotonic_align
        import utils
        self.models, self.utils, self.commons, self.losses = models, utils, commons, up_losses
        self.monotonic_align = monotonic_align
        self.sym = sys.modules["text.symbols"]
        self.golden_dir = golden_dir
        self.manifest = json.load(open(os.path.join(golden_dir, "manifest.json")))
        self.f01 = [c for c in self.manifest["cases"] if c["name"] == "F01_train_step"][0]
        import mel_processing

        self.mel_processing = mel_processing

    def hps(self, conf):
        conf = copy.deepcopy(conf)
        conf["model"]["slm"]["model"] = os.path.join(self.golden_dir, "wavlm_tiny")
        h = self.utils.HParams(**conf)
        h.model_dir = tempfile.gettempdir()  # train_and_evaluate with rank 1 writes nothing
        return h

    def build(self, hps):
        """The four networks as train_ms.run() builds them (reduced-width MPD as golden F01)."""
        m = self.models
        net_g = m.SynthesizerTrn(len(self.sym.symbols), hps.data.filter_length // 2 + 1,
                                 hps.train.segment_size // hps.data.hop_length, n_speakers=hps.data.n_speakers,
                                 mas_noise_scale_initial=0.01, noise_scale_delta=2e-6, **hps.model)
        net_dur_disc = m.DurationDiscriminator(hps.model.hidden_channels, hps.model.hidden_channels, 3, 0.1,
                                               gin_channels=hps.model.gin_channels)
        net_d = reduced_mpd(m, self.f01["config"]["net_d"])
        net_wd = m.WavLMDiscriminator(hps.model.slm.hidden, hps.model.slm.nlayers, hps.model.slm.initial_channel)
        nets = {"net_g": net_g, "net_d": net_d, "net_dur_disc": net_dur_disc, "net_wd": net_wd}
        for net in nets.values():
            for mod in net.modules():  # F01: every nn.Dropout p = 0
                if isinstance(mod, torch.nn.Dropout):
                    mod.p = 0.0
        return nets

    def step(self, hps, params, batch, dtype, draws, record=None, flip=None):
        """One train_and_evaluate step from `params` (numpy, state_dict keys per net) on `batch`
        (numpy) in `dtype`; returns the results as numpy arrays (golden F01 names) in that dtype.
        record: a list that receives every F.leaky_relu input (call order); flip: (call, flat index)
        of one leaky_relu element to take on its other linear piece (a kink alternative)."""
        tm = self.train_ms
        torch.set_default_dtype(dtype)
        orig_lrelu = torch.nn.functional.leaky_relu
        calls = [0]

        def leaky_relu(x, negative_slope=0.01, inplace=False):  # modules.py / models.py call F.leaky_relu
            k = calls[0]
            calls[0] += 1
            if record is not None:
                record.append(x.detach().clone())
            y = orig_lrelu(x, negative_slope)
            if flip is not None and flip[0] == k:
                mask = torch.zeros(x.numel(), dtype=torch.bool)
                mask[flip[1]] = True
                y = torch.where(mask.view(x.shape), torch.where(x > 0, x * negative_slope, x), y)
            return y
        torch.nn.functional.leaky_relu = leaky_relu
        orig_float = torch.Tensor.float
        if dtype == torch.float64:  # upstream's .float() casts would put parts of the graph back in fp32
            torch.Tensor.float = lambda self, *a, **k: self if self.dtype == torch.float64 else orig_float(self, *a, **k)
        try:
            nets = self.build(hps)
            for n, net in nets.items():
                sd = net.state_dict()
                for k in sd:
                    sd[k] = torch.from_numpy(params[n][k].copy())
                net.load_state_dict(sd)
                net.to(dtype)
            wl = self.losses.WavLMLoss(hps.model.slm.model, nets["net_wd"], hps.data.sampling_rate,
                                       hps.model.slm.sr).to(dtype)
            return self._run(tm, hps, nets, wl, batch, dtype, draws)
        finally:
            torch.Tensor.float = orig_float
            torch.nn.functional.leaky_relu = orig_lrelu
            torch.set_default_dtype(torch.float32)

    def _run(self, tm, hps, nets, wl, batch, dtype, draws):
        t = hps.train
        optims = {n: torch.optim.AdamW(filter(lambda p: p.requires_grad, net.parameters()), t.learning_rate,
                                       betas=t.betas, eps=t.eps) for n, net in nets.items()}
        scheds = {n: torch.optim.lr_scheduler.ExponentialLR(o, gamma=t.lr_decay, last_epoch=-1)
                  for n, o in optims.items()}
        grads = {}
        for n, o in optims.items():
            def step(o=o, n=n, orig=o.step):
                grads[n] = {k: p.grad.detach().clone() for k, p in nets[n].named_parameters() if p.grad is not None}
                return orig()
            o.step = step
        res, calls = {}, {}

        def tap(name, fn):
            def f(*a, **k):
                r = fn(*a, **k)
                calls.setdefault(name, []).append(r)
                return r
            return f

        saved = {}
        for name in ("discriminator_loss", "generator_loss", "feature_loss", "kl_loss", "spec_to_mel_torch",
                     "mel_spectrogram_torch"):
            saved[name] = getattr(tm, name)
            setattr(tm, name, tap(name, saved[name]))
        saved["commons"], saved["F"] = tm.commons, tm.F
        tm.commons = types.SimpleNamespace(**{k: getattr(self.commons, k) for k in dir(self.commons)
                                              if not k.startswith("__")})
        tm.commons.clip_grad_value_ = tap("clip_grad_value_", self.commons.clip_grad_value_)
        tm.commons.slice_segments = tap("slice_segments", self.commons.slice_segments)
        tm.F = types.SimpleNamespace(**{k: getattr(saved["F"], k) for k in dir(saved["F"]) if not k.startswith("__")})
        tm.F.l1_loss = tap("l1_loss", saved["F"].l1_loss)
        for m in ("discriminator", "generator", "forward"):
            setattr(wl, m, tap("wl." + m, getattr(wl, m)))
        ma = self.monotonic_align
        saved["maximum_path"] = ma.maximum_path

        def maximum_path(neg_cent, mask):  # keeps MAS's input for the decision margin
            calls.setdefault("maximum_path_in", []).append((neg_cent.detach().clone(), mask.detach().clone()))
            return saved["maximum_path"](neg_cent, mask)
        ma.maximum_path = maximum_path

        tensors = []
        for k in BATCH_ORDER:
            v = torch.from_numpy(batch[k].copy())
            tensors.append(v.to(dtype) if v.is_floating_point() else v)
        g = Wrap(nets["net_g"], res)
        draws.install()
        try:
            train_one_batch(tm, hps, [g, nets["net_d"], nets["net_dur_disc"], nets["net_wd"], wl],
                            [optims[n] for n in NETS], [scheds[n] for n in NETS], tensors)
        finally:
            draws.uninstall()
            for name in ("discriminator_loss", "generator_loss", "feature_loss", "kl_loss", "spec_to_mel_torch",
                         "mel_spectrogram_torch", "commons", "F"):
                setattr(tm, name, saved[name])
            ma.maximum_path = saved["maximum_path"]
        assert draws.replay in (None, []), "not every recorded draw was used"
        for n in ("net_g", "net_d", "net_wd", "net_dur_disc"):  # run(): scheduler_g, _d, _wd, _dur_disc.step()
            scheds[n].step()
        res["lr.after_epoch1"] = np.array([optims[n].param_groups[0]["lr"] for n in
                                           ("net_g", "net_d", "net_wd", "net_dur_disc")], dtype=np.float64)

        f64 = lambda v: np.array(float(v), dtype=np.float64)  # noqa: E731  python floats (.item()) stay F64
        dl, gl = calls["discriminator_loss"], calls["generator_loss"]  # [net_d, dur-disc] each
        res["dstep.loss_disc"] = dl[0][0]
        for i, (r_, g_) in enumerate(zip(dl[0][1], dl[0][2])):
            res["dstep.losses_disc_r.%d" % i], res["dstep.losses_disc_g.%d" % i] = f64(r_), f64(g_)
        res["dstep.loss_dur_disc"] = dl[1][0]
        for i, (r_, g_) in enumerate(zip(dl[1][1], dl[1][2])):
            res["dstep.losses_dur_disc_r.%d" % i], res["dstep.losses_dur_disc_g.%d" % i] = f64(r_), f64(g_)
        cg = calls["clip_grad_value_"]  # optimizer step order: dur, d, wd, g
        res["dstep.grad_norm_dur"], res["dstep.grad_norm_d"] = f64(cg[0]), f64(cg[1])
        res["wdstep.grad_norm_wd"], res["gstep.grad_norm_g"] = f64(cg[2]), f64(cg[3])
        res["wdstep.loss_slm"] = calls["wl.discriminator"][0].mean()
        res["gstep.loss_dur"] = torch.sum(res["fwd.l_length"])
        res["gstep.loss_mel"] = calls["l1_loss"][0] * hps.train.c_mel
        res["gstep.loss_kl"] = calls["kl_loss"][0] * hps.train.c_kl
        res["gstep.loss_fm"] = calls["feature_loss"][0]
        res["gstep.loss_gen"] = gl[0][0]
        for i, v in enumerate(gl[0][1]):
            res["gstep.losses_gen.%d" % i] = v
        res["gstep.loss_lm"] = calls["wl.forward"][0].mean()
        res["gstep.loss_lm_gen"] = calls["wl.generator"][0]
        res["gstep.loss_dur_gen"] = gl[1][0]
        for i, v in enumerate(gl[1][1]):
            res["gstep.losses_dur_gen.%d" % i] = v
        res["gstep.loss_gen_all"] = sum(res["gstep." + k] for k in ("loss_gen", "loss_fm", "loss_mel", "loss_dur",
                                                                     "loss_kl", "loss_lm", "loss_lm_gen")) \
            + res["gstep.loss_dur_gen"]
        res["fwd.mel"] = calls["spec_to_mel_torch"][0]
        res["fwd.y_mel"], res["fwd.y_sliced"] = calls["slice_segments"][0], calls["slice_segments"][1]
        res["fwd.y_hat_mel"] = calls["mel_spectrogram_torch"][0]
        neg_cent, mask = calls["maximum_path_in"][0]
        for n in NETS:
            for k, p in nets[n].named_parameters():
                res["grad.%s.%s" % (n, k)] = grads[n][k]
                res["after.%s.%s" % (n, k)] = p
        out = {}
        for k, v in res.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().numpy()
            out[k] = np.array(v).copy()
        out["_neg_cent"] = neg_cent.detach().numpy().astype(np.float32)
        out["_mas_mask"] = mask.detach().numpy()
        return out


def mas_margin(neg_cent, mask):
    """Smallest |value[y-1, x] - value[y-1, x-1]| over the decisions monotonic_align's backtrack
    takes (float32, as upstream): how far the alignment is from a tie."""
    best = np.inf
    for b in range(neg_cent.shape[0]):
        t_y, t_x = int(mask[b].sum(0)[0]), int(mask[b].sum(1)[0])  # mask [T_y, T_x] (maximum_path)
        v = neg_cent[b].astype(np.float32).copy()
        for y in range(t_y):
            for x in range(max(0, t_x + y - t_y), min(t_x, y + 1)):
                cur = np.float32(-1e9) if x == y else v[y - 1, x]
                prev = (np.float32(0) if y == 0 else np.float32(-1e9)) if x == 0 else v[y - 1, x - 1]
                v[y, x] += max(prev, cur)
        index = t_x - 1
        for y in range(t_y - 1, -1, -1):
            if index != 0 and index != y:
                best = min(best, abs(float(v[y - 1, index]) - float(v[y - 1, index - 1])))
            if index != 0 and (index == y or v[y - 1, index] < v[y - 1, index - 1]):
                index -= 1
    return best


# ---------------------------------------------------------------- seeds: parameters and batch

def make_params(up, hps, seed):
    torch.manual_seed(seed)
    nets = up.build(hps)
    gen = torch.Generator().manual_seed(10000 + seed)
    perturbed = []
    with torch.no_grad():
        for k, p in nets["net_g"].named_parameters():
            if PERTURB.match(k):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
                perturbed.append(k)
    params = {n: {k: v.detach().numpy().copy() for k, v in net.state_dict().items()} for n, net in nets.items()}
    return params, perturbed


def make_batch(up, hps, seed):
    """Two utterances as TextAudioSpeakerCollate returns them (longest spectrogram first)."""
    rng = np.random.default_rng(seed)
    sym = up.sym
    hop = hps.data.hop_length
    seg_frames = hps.train.segment_size // hop
    tone_counts = [sym.num_zh_tones, sym.num_ja_tones, sym.num_en_tones]
    items = []
    for _ in range(2):
        lang = int(rng.integers(0, sym.num_languages))
        n_ph = int(rng.integers(2, 7))
        phones = [0] + list(rng.integers(1, len(sym.symbols), n_ph)) + [0]  # "_" ... "_" as cleaned_text
        start = [sym.language_tone_start_map[k] for k in ("ZH", "JP", "EN")][lang]
        tones = [start + int(t) for t in rng.integers(0, tone_counts[lang], len(phones))]
        langs = [lang] * len(phones)
        inter = lambda s: [0] + [v for p in s for v in (int(p), 0)]  # noqa: E731  commons.intersperse(s, 0)
        x, tone, language = inter(phones), inter(tones), inter(langs)
        frames = int(rng.integers(max(len(x), seg_frames), 29))
        n = frames * hop
        t = np.arange(n) / hps.data.sampling_rate
        y = np.zeros(n)
        for _k in range(3):
            f = rng.uniform(80, 6000)
            y += rng.uniform(0.05, 0.25) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) \
                * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(1, 8) * t))
        y += 0.01 * rng.standard_normal(n)
        y = np.clip(np.round(y * 32768), -32768, 32767) / 32768.0  # 16-bit PCM / max_wav_value
        yt = torch.from_numpy(y.astype(np.float32))[None]
        spec = up.mel_processing.spectrogram_torch(yt, hps.data.filter_length, hps.data.sampling_rate, hop,
                                                   hps.data.win_length, center=False)[0]
        assert spec.shape[1] == frames, (spec.shape, frames)
        berts = [rng.standard_normal((1024, len(x))).astype(np.float32) for _k in range(3)]
        items.append(dict(x=x, tone=tone, language=language, y=y.astype(np.float32), spec=spec.numpy(),
                          speaker=int(rng.integers(0, hps.data.n_speakers)), bert=berts))
    items.sort(key=lambda it: -it["spec"].shape[1])
    tx = max(len(it["x"]) for it in items)
    ty = max(it["spec"].shape[1] for it in items)
    b = {"x": np.zeros((2, tx), np.int64), "tone": np.zeros((2, tx), np.int64), "language": np.zeros((2, tx), np.int64),
         "spec": np.zeros((2, hps.data.filter_length // 2 + 1, ty), np.float32),
         "y": np.zeros((2, 1, ty * hop), np.float32), "bert": np.zeros((2, 1024, tx), np.float32),
         "ja_bert": np.zeros((2, 1024, tx), np.float32), "en_bert": np.zeros((2, 1024, tx), np.float32)}
    b["x_lengths"] = np.array([len(it["x"]) for it in items], np.int64)
    b["spec_lengths"] = np.array([it["spec"].shape[1] for it in items], np.int64)
    b["y_lengths"] = b["spec_lengths"] * hop
    b["speakers"] = np.array([it["speaker"] for it in items], np.int64)
    for i, it in enumerate(items):
        n, f = len(it["x"]), it["spec"].shape[1]
        b["x"][i, :n], b["tone"][i, :n], b["language"][i, :n] = it["x"], it["tone"], it["language"]
        b["spec"][i, :, :f] = it["spec"]
        b["y"][i, 0, :f * hop] = it["y"]
        for k, v in zip(("bert", "ja_bert", "en_bert"), it["bert"]):
            b[k][i, :, :n] = v
    return b


def config_for(label, base):
    conf = copy.deepcopy(base)
    if label == "B":
        conf["model"]["resblock"] = "2"
        conf["model"]["resblock_dilation_sizes"] = [[1, 3], [1, 3], [1, 3]]
        conf["model"]["use_transformer_flow"] = False
    return conf


# ---------------------------------------------------------------- writing

def group_of(name):
    if name.startswith("grad."):
        return "grad_param", "grad"
    if name.startswith("after."):
        return "param_after", "after_step"
    if name in ("fwd.attn", "fwd.ids_slice", "fwd.x_mask", "fwd.z_mask"):
        return "output", "exact"
    if name.startswith("fwd."):
        return "output", "forward"
    if name.startswith("lr."):
        return "output", "forward"
    return "output", "loss"


def write_results(out_dir, name, r32, r64, t32=None):
    """<name>.safetensors (t32 plus the fp32 results) and <name>.fp64.safetensors (the same result
    names from the fp64 run, F64). Returns the two file names and what the first holds."""
    t32, t64 = dict(t32 or {}), {}
    for k, v in r32.items():
        if k.startswith("_"):
            continue
        if v.dtype == np.float64 and not (k.startswith("dstep.losses_") or "grad_norm" in k or k.startswith("lr.")):
            v = v.astype(np.float32)
        t32[k] = v
        w = r64[k]
        t64[k] = w.astype(np.float64) if w.dtype != np.int64 else w
    file32, file64 = name + ".safetensors", name + ".fp64.safetensors"
    st_write(os.path.join(out_dir, file32), t32, {"case": name, "made_by": "tests/ref/parity_sweep.py",
                                                   "dtype": "float32", "torch": torch.__version__})
    st_write(os.path.join(out_dir, file64), t64, {"case": name, "made_by": "tests/ref/parity_sweep.py",
                                                   "dtype": "float64", "torch": torch.__version__})
    return file32, file64, t32


def near_kinks(rec32, rec64):
    """leaky_relu inputs within KINK_MARGIN x torch's own fp32 error (that call's max|x32 - x64|) of
    zero, closest first: [(margin, call, flat index, x64, error)]."""
    out = []
    for k, (x32, x64) in enumerate(zip(rec32, rec64)):
        err = float((x32.double() - x64).abs().max())
        ax = x64.abs().flatten()
        for i in torch.nonzero(ax <= KINK_MARGIN * err).flatten().tolist():
            out.append((float(ax[i]) / err if err > 0 else 0.0, k, i, float(x64.flatten()[i]), err))
    return sorted(out)


def write_case(out_dir, name, label, seed, conf, up, params, batch, r32, r64, perturbed, extra):
    f01 = up.f01
    t32 = {}
    for k, v in batch.items():
        t32["in." + k] = v
    for n in NETS:
        for k, v in params[n].items():
            t32["param.%s.%s" % (n, k)] = v
    for i, (fn, v) in enumerate(r32["_draws"]):
        t32["noise.%03d.%s" % (i, fn)] = np.asarray(v, np.float32)
    file32, file64, t32 = write_results(out_dir, name, r32, r64, t32)
    tensors = []
    dt = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}
    for k in sorted(t32):
        e = {"name": k, "dtype": dt[np.asarray(t32[k]).dtype], "shape": list(np.shape(t32[k]))}
        if k.startswith("in."):
            e["role"] = "input"
        elif k.startswith("param."):
            e["role"] = "param"
        elif k.startswith("noise."):
            e["role"] = "noise"
        else:
            e["role"], e["group"] = group_of(k)
        tensors.append(e)
    cfg = copy.deepcopy(f01["config"])
    cfg["config"] = conf
    cfg["perturbed_after_init"] = perturbed
    return {
        "name": name, "file": file32, "fp64_file": file64, "seed": seed, "model_config": label,
        "exercises": "upstream train_ms.train_and_evaluate, one step (as golden F01) in float32; fp64_file: the "
                     "same step after .double()",
        "config": cfg, "tolerance": f01["tolerance"], "tolerance_groups": f01["tolerance_groups"],
        "tolerance_why": "floor only: golden F01's tolerances; tests/test_parity.c widens each tensor's to the "
                         "envelope 2 * max|fp32 - fp64| of this very case",
        "optimizer_step_order": f01["optimizer_step_order"], "tensors": tensors, **extra,
    }


# ---------------------------------------------------------------- main

def golden_check(up, golden):
    """Re-run golden F01 through this harness (fp32) and report the largest differences."""
    conf = up.f01["config"]["config"]
    hps = up.hps(conf)
    params = {n: {k[len("param.%s." % n):]: golden[k] for k in golden if k.startswith("param.%s." % n)}
              for n in NETS}
    batch = {k[3:]: golden[k] for k in golden if k.startswith("in.")}
    noise = [(k, golden[k]) for k in sorted(golden) if k.startswith("noise.")]
    r = up.step(hps, params, batch, torch.float32, Draws(replay=noise))
    worst, n = {}, 0
    for k, v in r.items():
        if k in golden:
            n += 1
            fam = k.split(".")[0]
            d = float(np.max(np.abs(v.astype(np.float64) - golden[k].astype(np.float64)))) if v.size else 0.0
            if d > worst.get(fam, (-1,))[0]:
                worst[fam] = (d, k)
    print("golden-check: %d F01 tensors compared; largest |harness - golden| per family:" % n)
    for fam, (d, k) in sorted(worst.items()):
        print("  %-7s %.3g (%s)" % (fam, d, k))
    return params, batch, noise, r, worst


def run_case(up, conf, label, seed, params, batch, draws32, out_dir, perturbed, manifest, extra=None):
    hps = up.hps(conf)
    d32 = draws32
    rec32, rec64 = [], []
    r32 = up.step(hps, params, batch, torch.float32, d32, record=rec32)
    r32["_draws"] = d32.rec
    noise = [("noise.%03d.%s" % (i, fn), v) for i, (fn, v) in enumerate(d32.rec)]
    r64 = up.step(up.hps(conf), params, batch, torch.float64, Draws(replay=noise), record=rec64)
    name = "P%s_%s" % (label, seed if isinstance(seed, str) else "s%d" % seed)
    # Kink alternatives: a leaky_relu input within fp32 noise of zero may fall on either side in an
    # independent fp32 implementation; its gradient then passes 1 or the slope there. For each such
    # element (closest first, at most MAX_KINKS) both runs are repeated with that element taken on its
    # other linear piece: an equally valid reference for an implementation whose rounding put it there.
    kinks = near_kinks(rec32, rec64)
    alts = []
    for j, (margin, call, idx, x64, err) in enumerate(kinks[:MAX_KINKS]):
        a32 = up.step(up.hps(conf), params, batch, torch.float32, Draws(replay=noise), flip=(call, idx))
        a64 = up.step(up.hps(conf), params, batch, torch.float64, Draws(replay=noise), flip=(call, idx))
        f32, f64_, _ = write_results(out_dir, "%s.kink%d" % (name, j), a32, a64)
        alts.append({"file": f32, "fp64_file": f64_, "leaky_relu_call": call, "index": idx, "x_fp64": x64,
                     "torch_fp32_error": err, "margin": margin, "shape": list(rec64[call].shape)})
    m32 = mas_margin(r32["_neg_cent"], r32["_mas_mask"])
    m64 = mas_margin(r64["_neg_cent"], r64["_mas_mask"])
    same_attn = bool(np.array_equal(r32["fwd.attn"], r64["fwd.attn"].astype(np.float32)))
    same_slice = bool(np.array_equal(r32["fwd.ids_slice"], r64["fwd.ids_slice"]))
    ex = {"mas_min_decision_margin": m32, "mas_min_decision_margin_fp64": m64, "fp32_fp64_same_alignment": same_attn,
          "fp32_fp64_same_slice": same_slice, "leaky_relu_calls": len(rec64),
          "leaky_relu_min_margin": kinks[0][0] if kinks else None, "near_kinks": len(kinks),
          "kink_alternatives": alts}
    ex.update(extra or {})
    manifest["cases"].append(write_case(out_dir, name, label, seed, conf, up, params, batch, r32, r64, perturbed, ex))
    gn = r32["gstep.grad_norm_g"], r64["gstep.grad_norm_g"]
    print("%s: loss_gen_all %.6f (fp64 %.6f), grad_norm_g %.6f (fp64 %.6f), MAS margin %.3g, same alignment %s, "
          "same slice %s" % (name, r32["gstep.loss_gen_all"], r64["gstep.loss_gen_all"], gn[0], gn[1], m32, same_attn,
                             same_slice), flush=True)
    for alt in alts:
        print("  %s: leaky_relu call %d element %d is %.3g from its kink, %.2f x torch's own fp32 error there: "
              "alternative reference %s" % (name, alt["leaky_relu_call"], alt["index"], abs(alt["x_fp64"]),
                                             alt["margin"], alt["file"]), flush=True)
    if len(kinks) > MAX_KINKS:
        print("  WARNING: %s: %d leaky_relu inputs near a kink, alternatives made for %d" % (name, len(kinks), MAX_KINKS))
    if not (same_attn and same_slice):
        print("  WARNING: %s: fp32 and fp64 runs took different discrete decisions; its envelope is not "
              "meaningful" % name)


def parse_seeds(s):
    out = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/parity")
    ap.add_argument("--seeds", default="1-8")
    ap.add_argument("--configs", default="A,B")
    ap.add_argument("--golden-check", action="store_true")
    a = ap.parse_args()
    upstream = os.environ.get("UPSTREAM_DIR")
    golden_dir = os.path.abspath(os.environ.get("GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden")))
    if not upstream or not os.path.exists(os.path.join(upstream, "train_ms.py")):
        sys.exit("set UPSTREAM_DIR to a Bert-VITS2 checkout (golden: commit 8f7fbd8c4770965225d258db548da27dc8dd934c)")
    torch.set_num_threads(1)
    torch.nn.functional.gelu = gelu  # before transformers builds the WavLM (its GELUActivation keeps F.gelu)
    up = Upstream(os.path.abspath(upstream), golden_dir)
    os.makedirs(a.out, exist_ok=True)
    link = os.path.join(a.out, "wavlm_tiny")
    if not os.path.exists(link):
        os.symlink(os.path.join(golden_dir, "wavlm_tiny"), link)
    manifest = {"made_by": "tests/ref/parity_sweep.py", "torch": torch.__version__, "golden": golden_dir,
                "upstream": os.path.abspath(upstream), "cases": []}
    base = up.f01["config"]["config"]
    if a.golden_check:
        golden = st_read(os.path.join(golden_dir, "F01_train_step.safetensors"))
        params, batch, noise, _, worst = golden_check(up, golden)
        run_case(up, base, "A", "golden", params, batch, Draws(replay=noise), a.out,
                 up.f01["config"]["perturbed_after_init"], manifest,
                 {"golden_check_max_abs_diff": {f: d for f, (d, _k) in worst.items()}})
        # F01's parameters on the batch and draws of rank 1 in ddp_ref.py (tests/ddp_F01_2ranks.safetensors):
        # F01's utterances swapped, speakers + 1, BERT x 0.5, draws seeded 1 - one process, no averaging
        run_case(up, base, "A", "ddp_r1", params, second_batch(golden), Draws(seed=1), a.out,
                 up.f01["config"]["perturbed_after_init"], manifest)
    for label in a.configs.split(","):
        conf = config_for(label, base)
        hps = up.hps(conf)
        for seed in parse_seeds(a.seeds):
            params, perturbed = make_params(up, hps, seed)
            batch = make_batch(up, hps, seed)
            run_case(up, conf, label, seed, params, batch, Draws(seed=seed), a.out, perturbed, manifest)
    path = os.path.join(a.out, "manifest.json")
    if os.path.exists(path):  # cases made by an earlier run stay, those made now replace theirs
        made = {c["name"]: c for c in manifest["cases"]}
        old = json.load(open(path))["cases"]
        manifest["cases"] = [made.pop(c["name"], c) for c in old] + list(made.values())
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(path + ".tmp", path)
    print("wrote %s: %d cases" % (path, len(manifest["cases"])))


if __name__ == "__main__":
    main()
