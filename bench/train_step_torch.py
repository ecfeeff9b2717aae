#!/usr/bin/env python3
"""train_step_torch.py - upstream Bert-VITS2 2.3's training step (train_ms.train_and_evaluate's batch
body) in PyTorch, timed on the same shapes as bench/bench_train_step.c; bench/step.sh runs both.

Upstream's own code does the work: models.py (SynthesizerTrn, MultiPeriodDiscriminator,
DurationDiscriminator, WavLMDiscriminator), losses.py (generator/discriminator/feature/kl losses,
WavLMLoss), mel_processing.py, commons.py and monotonic_align, imported from $UPSTREAM_DIR (default
/work/upstream; upstream code is never copied into this repository). The nets, optimizers and the
step are built as train_ms.run / train_and_evaluate build them (same constructor arguments, AdamW
settings, detach points, zero_grad/backward/clip_grad_value_/step order; GradScaler and autocast
disabled as bf16_run false makes them). Only what a CPU run needs differs: no DDP wrapper, no .cuda().

Config: $UPSTREAM_DIR/configs/config.json (or --config). WavLM: a random transformers WavLMModel of
wavlm-base-plus's shape (WavLMConfig defaults), built in place of AutoModel.from_pretrained - no download -
and put in eval mode as from_pretrained leaves it (in training mode transformers raises on the frozen
feature encoder: "you can only change requires_grad flags of leaf variables").
Batch: random, collated with zero padding like TextAudioSpeakerCollate, lengths from --tx / --ty.
At batch 1 upstream's `.squeeze()` before WavLMLoss also drops the batch dimension and WavLM then
fails on the 1-D input; the WavLM call gets it back (unsqueeze(0)), the same work as upstream's model.
--bf16 sets train.bf16_run: upstream's own autocast(dtype=torch.bfloat16) regions, on the CPU as
torch.autocast("cpu", dtype=torch.bfloat16); GradScaler(enabled=True) disables itself without CUDA.
torch 1.13 cannot run upstream's LayerNorms under CPU autocast as they are: bench/autocast_compat.py.

Environment: build/bench-venv, which bench/setup-venv.sh makes (bench/lib.sh's bench_python; step.sh,
compare.sh and `make bench` use it): Debian's python3-torch 1.13 and python3-torchaudio, PyPI's
transformers / numba at bench/requirements-torch.txt's versions, and a stand-in vector_quantize_pytorch
(imported by v2.3's models.py, never used). Stand-ins here for what may still be missing:
  numba                 without it the MAS falls back to upstream's loop in plain Python (slow: a
                        warning says so).
  torchaudio            transforms.Resample is supplied here when torchaudio is missing (torchaudio
                        0.13's sinc_interp_hann kernel + strided conv1d, same cost).
  librosa               only librosa.filters.mel is used (once, cached): a numpy Slaney filterbank.
upstream's text/__init__.py downloads BERT models when imported: `text` is loaded as a bare package
over upstream's text/ folder exposing text.symbols, all models.py needs.
Debian's torch 1.13 returns garbage from gelu_backward when the incoming gradient is non-contiguous
(WavLM hits it); F.gelu is wrapped so its backward sees contiguous tensors (the golden data's fix).

Prints per-step wall and CPU time, the step timeline and peak RSS, then one line
"RESULT torch step_ms=... min_ms=... max_rss_mib=..." for bench/step.sh and bench/compare.sh.

  [UPSTREAM_DIR=...] [BENCH_THREADS=2] build/bench-venv/bin/python bench/train_step_torch.py [--steps 3]
      [--tx 147,125] [--ty 431,388] [--bf16]
"""
import argparse
import importlib.machinery
import json
import math
import os
import resource
import sys
import time
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings("ignore")
UPSTREAM_DIR = os.environ.get("UPSTREAM_DIR", "/work/upstream")


# ---------------------------------------------------------------- stand-ins for missing packages

def slaney_mel(sr, n_fft, n_mels=128, fmin=0.0, fmax=None, **_):
    """librosa.filters.mel (htk=False, norm='slaney') in numpy."""
    fmax = sr / 2.0 if fmax is None else fmax

    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        mels = f / (200.0 / 3)
        log_t = f >= 1000.0
        return np.where(log_t, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mels)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        f = m * (200.0 / 3)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)

    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float32)
    for i in range(n_mels):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


class Resample(torch.nn.Module):
    """torchaudio.transforms.Resample(orig, new) with its defaults (sinc_interp_hann, width 6, rolloff 0.99)."""

    def __init__(self, orig_freq, new_freq, lowpass_filter_width=6, rolloff=0.99):
        super().__init__()
        self.gcd = math.gcd(int(orig_freq), int(new_freq))
        self.orig, self.new = int(orig_freq) // self.gcd, int(new_freq) // self.gcd
        base = min(self.orig, self.new) * rolloff
        self.width = math.ceil(lowpass_filter_width * self.orig / base)
        idx = torch.arange(-self.width, self.width + self.orig, dtype=torch.float64)[None, None] / self.orig
        t = torch.arange(0, -self.new, -1, dtype=torch.float64)[:, None, None] / self.new + idx
        t = (t * base).clamp_(-lowpass_filter_width, lowpass_filter_width)
        window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
        t = t * math.pi
        kernel = torch.where(t == 0, torch.tensor(1.0, dtype=torch.float64), t.sin() / t) * window * (base / self.orig)
        self.register_buffer("kernel", kernel.to(torch.float32))

    def forward(self, waveform):
        shape = waveform.size()
        waveform = waveform.reshape(-1, shape[-1])
        n, length = waveform.shape
        waveform = F.pad(waveform, (self.width, self.width + self.orig))
        out = F.conv1d(waveform[:, None], self.kernel, stride=self.orig)
        out = out.transpose(1, 2).reshape(n, -1)[..., : int(math.ceil(self.new * length / self.orig))]
        return out.view(shape[:-1] + out.shape[-1:])


def _module(name):
    m = types.ModuleType(name)
    m.__spec__ = importlib.machinery.ModuleSpec(name, None)  # importlib.util.find_spec (transformers) wants one
    sys.modules[name] = m
    return m


def install_text_package():
    """upstream text/__init__.py downloads BERT models at import (check_bert_models): models.py only needs
    text.symbols, so `text` is made a bare package over upstream's folder that re-exports it."""
    pkg = _module("text")
    pkg.__path__ = [os.path.join(UPSTREAM_DIR, "text")]
    pkg.__spec__.submodule_search_locations = pkg.__path__
    import text.symbols as ts

    for k in dir(ts):
        if not k.startswith("_"):
            setattr(pkg, k, getattr(ts, k))


def install_stand_ins():
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        ta = _module("torchaudio")
        ta.transforms = _module("torchaudio.transforms")
        ta.transforms.Resample = Resample
    try:
        import librosa  # noqa: F401
    except ImportError:
        lr = _module("librosa")
        lr.filters = _module("librosa.filters")
        lr.filters.mel = slaney_mel
    try:
        import numba  # noqa: F401
    except ImportError:
        print("warning: numba missing: monotonic_align runs as plain Python (slow; see the header)", file=sys.stderr)
        nb = _module("numba")
        nb.jit = lambda *a, **k: (lambda f: f)
        for t in ("void", "int32", "float32"):
            setattr(nb, t, _AnyType())


class _AnyType:
    """numba.int32[:, :, ::1] etc. for the signature in monotonic_align/core.py when numba is absent."""

    def __getitem__(self, _):
        return self

    def __call__(self, *_):
        return self


class _GeluContiguous(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.ops.aten.gelu(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(g.contiguous(), x.contiguous())


_orig_gelu = F.gelu


def gelu_fixed(x, approximate="none"):
    return _GeluContiguous.apply(x) if approximate == "none" else _orig_gelu(x, approximate=approximate)


class HParams(dict):
    """utils.HParams' behaviour (attribute access, ** unpacking), without utils' scipy/hub imports."""

    def __init__(self, **kw):
        super().__init__({k: HParams(**v) if isinstance(v, dict) else v for k, v in kw.items()})

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


# ---------------------------------------------------------------- setup

def random_wavlm():
    from transformers import WavLMConfig, WavLMModel

    cfg = WavLMConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                      conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                      conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                      num_buckets=320, max_bucket_distance=800)
    return _BatchDim(WavLMModel(cfg).eval())  # eval: as from_pretrained returns it


class _BatchDim(torch.nn.Module):
    """The WavLM with a batch dimension put back on a 1-D input (upstream's .squeeze() at batch 1)."""

    def __init__(self, wavlm):
        super().__init__()
        self.wavlm = wavlm

    def forward(self, input_values, **kw):
        return self.wavlm(input_values=input_values[None] if input_values.dim() == 1 else input_values, **kw)


def build(hps):
    """train_ms.run's networks, WavLMLoss and optimizers."""
    import losses
    from models import DurationDiscriminator, MultiPeriodDiscriminator, SynthesizerTrn, WavLMDiscriminator
    from text.symbols import symbols

    if hps.model.get("use_noise_scaled_mas") is True:
        mas_noise_scale_initial, noise_scale_delta = 0.01, 2e-6
    else:
        mas_noise_scale_initial, noise_scale_delta = 0.0, 0.0
    net_dur_disc = None
    if hps.model.get("use_duration_discriminator") is True:
        net_dur_disc = DurationDiscriminator(hps.model.hidden_channels, hps.model.hidden_channels, 3, 0.1,
                                             gin_channels=hps.model.gin_channels if hps.data.n_speakers != 0 else 0)
    net_g = SynthesizerTrn(len(symbols), hps.data.filter_length // 2 + 1,
                           hps.train.segment_size // hps.data.hop_length, n_speakers=hps.data.n_speakers,
                           mas_noise_scale_initial=mas_noise_scale_initial, noise_scale_delta=noise_scale_delta,
                           **hps.model)
    net_d = MultiPeriodDiscriminator(hps.model.use_spectral_norm)
    net_wd = WavLMDiscriminator(hps.model.slm.hidden, hps.model.slm.nlayers, hps.model.slm.initial_channel)
    t = hps.train

    def adamw(params):
        return torch.optim.AdamW(params, t.learning_rate, betas=t.betas, eps=t.eps)

    optim_g = adamw(filter(lambda p: p.requires_grad, net_g.parameters()))
    optim_d = adamw(net_d.parameters())
    optim_wd = adamw(net_wd.parameters())
    optim_dur_disc = adamw(net_dur_disc.parameters()) if net_dur_disc is not None else None
    # WavLMLoss(hps.model.slm.model, net_wd, sampling_rate, slm.sr) with AutoModel -> a random WavLM
    losses.AutoModel = types.SimpleNamespace(from_pretrained=lambda _path: random_wavlm())
    wl = losses.WavLMLoss(hps.model.slm.model, net_wd, hps.data.sampling_rate, hps.model.slm.sr)
    return (net_g, net_d, net_dur_disc, net_wd, wl), (optim_g, optim_d, optim_dur_disc, optim_wd)


def make_batch(hps, tx, ty):
    """TextAudioSpeakerCollate's padded batch with random content."""
    from text.symbols import num_languages, num_tones, symbols

    B, TX, TY, hop = len(tx), max(tx), max(ty), hps.data.hop_length
    C = hps.data.filter_length // 2 + 1
    x = torch.zeros(B, TX, dtype=torch.long)
    tone, language = torch.zeros_like(x), torch.zeros_like(x)
    spec, y = torch.zeros(B, C, TY), torch.zeros(B, 1, TY * hop)
    bert, ja_bert, en_bert = (torch.zeros(B, 1024, TX) for _ in range(3))
    for i in range(B):
        phones = torch.randint(1, len(symbols), (tx[i],))
        phones[0::2] = 0  # intersperse(blank)
        x[i, : tx[i]] = phones
        tone[i, 1 : tx[i] : 2] = torch.randint(0, num_tones, ((tx[i]) // 2,))
        language[i, : tx[i]] = int(torch.randint(0, num_languages, ()))
        for b in (bert, ja_bert, en_bert):
            b[i, :, : tx[i]] = torch.randn(1024, tx[i])
        spec[i, :, : ty[i]] = torch.randn(C, ty[i]).abs()
        y[i, 0, : ty[i] * hop] = torch.rand(ty[i] * hop) - 0.5
    lengths = lambda v: torch.tensor(v, dtype=torch.long)  # noqa: E731
    speakers = torch.randint(0, hps.data.n_speakers, (B,))
    return (x, lengths(tx), spec, lengths(ty), y, lengths([t * hop for t in ty]), speakers, tone, language, bert,
            ja_bert, en_bert)


# ---------------------------------------------------------------- the step (train_and_evaluate's body)

def train_step(hps, nets, optims, scaler, batch, global_step, mark):
    import commons
    from losses import discriminator_loss, feature_loss, generator_loss, kl_loss
    from mel_processing import mel_spectrogram_torch, spec_to_mel_torch

    def autocast(enabled, dtype):  # torch.cuda.amp.autocast needs CUDA even when disabled
        return torch.autocast("cpu", dtype=dtype, enabled=enabled)

    net_g, net_d, net_dur_disc, net_wd, wl = nets
    optim_g, optim_d, optim_dur_disc, optim_wd = optims
    x, x_lengths, spec, spec_lengths, y, y_lengths, speakers, tone, language, bert, ja_bert, en_bert = batch
    if net_g.use_noise_scaled_mas:
        current_mas_noise_scale = net_g.mas_noise_scale_initial - net_g.noise_scale_delta * global_step
        net_g.current_mas_noise_scale = max(current_mas_noise_scale, 0.0)
    bf16 = hps.train.bf16_run
    with autocast(enabled=bf16, dtype=torch.bfloat16):
        (y_hat, l_length, attn, ids_slice, x_mask, z_mask, (z, z_p, m_p, logs_p, m_q, logs_q),
         (hidden_x, logw, logw_, logw_sdp), g) = net_g(x, x_lengths, spec, spec_lengths, speakers, tone, language,
                                                       bert, ja_bert, en_bert)
        mel = spec_to_mel_torch(spec, hps.data.filter_length, hps.data.n_mel_channels, hps.data.sampling_rate,
                                hps.data.mel_fmin, hps.data.mel_fmax)
        y_mel = commons.slice_segments(mel, ids_slice, hps.train.segment_size // hps.data.hop_length)
        y_hat_mel = mel_spectrogram_torch(y_hat.squeeze(1).float(), hps.data.filter_length, hps.data.n_mel_channels,
                                          hps.data.sampling_rate, hps.data.hop_length, hps.data.win_length,
                                          hps.data.mel_fmin, hps.data.mel_fmax)
        y = commons.slice_segments(y, ids_slice * hps.data.hop_length, hps.train.segment_size)
        mark("net_g forward + mel / slices")

        # Discriminator
        y_d_hat_r, y_d_hat_g, _, _ = net_d(y, y_hat.detach())
        with autocast(enabled=bf16, dtype=torch.bfloat16):
            loss_disc, losses_disc_r, losses_disc_g = discriminator_loss(y_d_hat_r, y_d_hat_g)
            loss_disc_all = loss_disc
        mark("D: MPD forward (y, y_hat.detach())")
        if net_dur_disc is not None:
            y_dur_hat_r, y_dur_hat_g = net_dur_disc(hidden_x.detach(), x_mask.detach(), logw_.detach(),
                                                    logw.detach(), g.detach())
            y_dur_hat_r_sdp, y_dur_hat_g_sdp = net_dur_disc(hidden_x.detach(), x_mask.detach(), logw_.detach(),
                                                            logw_sdp.detach(), g.detach())
            y_dur_hat_r = y_dur_hat_r + y_dur_hat_r_sdp
            y_dur_hat_g = y_dur_hat_g + y_dur_hat_g_sdp
            with autocast(enabled=bf16, dtype=torch.bfloat16):
                loss_dur_disc, losses_dur_disc_r, losses_dur_disc_g = discriminator_loss(y_dur_hat_r, y_dur_hat_g)
                loss_dur_disc_all = loss_dur_disc
            mark("D: dur-disc forward x2")
            optim_dur_disc.zero_grad()
            scaler.scale(loss_dur_disc_all).backward()
            scaler.unscale_(optim_dur_disc)
            grad_norm_dur = commons.clip_grad_value_(net_dur_disc.parameters(), None)  # noqa: F841
            scaler.step(optim_dur_disc)

    optim_d.zero_grad()
    scaler.scale(loss_disc_all).backward()
    scaler.unscale_(optim_d)
    grad_norm_d = commons.clip_grad_value_(net_d.parameters(), None)  # noqa: F841
    scaler.step(optim_d)
    mark("D: dur-disc + MPD backward/clip/AdamW")

    with autocast(enabled=bf16, dtype=torch.bfloat16):
        loss_slm = wl.discriminator(y.detach().squeeze(), y_hat.detach().squeeze()).mean()
    mark("WD: WavLM(y), WavLM(y_hat) no grad + net_wd forward")
    optim_wd.zero_grad()
    scaler.scale(loss_slm).backward()
    scaler.unscale_(optim_wd)
    grad_norm_wd = commons.clip_grad_value_(net_wd.parameters(), None)  # noqa: F841
    scaler.step(optim_wd)
    mark("WD: backward/clip/AdamW")

    with autocast(enabled=bf16, dtype=torch.bfloat16):
        # Generator
        y_d_hat_r, y_d_hat_g, fmap_r, fmap_g = net_d(y, y_hat)
        mark("G: MPD forward (y, y_hat)")
        if net_dur_disc is not None:
            _, y_dur_hat_g = net_dur_disc(hidden_x, x_mask, logw_, logw, g)
            _, y_dur_hat_g_sdp = net_dur_disc(hidden_x, x_mask, logw_, logw_sdp, g)
            y_dur_hat_g = y_dur_hat_g + y_dur_hat_g_sdp
            mark("G: dur-disc forward x2")
        with autocast(enabled=bf16, dtype=torch.bfloat16):
            loss_dur = torch.sum(l_length.float())
            loss_mel = F.l1_loss(y_mel, y_hat_mel) * hps.train.c_mel
            loss_kl = kl_loss(z_p, logs_q, m_p, logs_p, z_mask) * hps.train.c_kl
            loss_fm = feature_loss(fmap_r, fmap_g)
            loss_gen, losses_gen = generator_loss(y_d_hat_g)
            loss_lm = wl(y.detach().squeeze(), y_hat.squeeze()).mean()
            loss_lm_gen = wl.generator(y_hat.squeeze())
            loss_gen_all = loss_gen + loss_fm + loss_mel + loss_dur + loss_kl + loss_lm + loss_lm_gen
            if net_dur_disc is not None:
                loss_dur_gen, losses_dur_gen = generator_loss(y_dur_hat_g)
                loss_gen_all += loss_dur_gen
        mark("G: losses (WavLM x3: y no grad, y_hat x2 with grad)")
    optim_g.zero_grad()
    scaler.scale(loss_gen_all).backward()
    scaler.unscale_(optim_g)
    grad_norm_g = commons.clip_grad_value_(net_g.parameters(), None)
    scaler.step(optim_g)
    scaler.update()
    mark("G: backward + clip + AdamW")
    return float(loss_gen_all), float(loss_disc), grad_norm_g


# ---------------------------------------------------------------- driver

def pair(s):
    return [int(v) for v in s.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--config", default=os.path.join(UPSTREAM_DIR, "configs", "config.json"))
    ap.add_argument("--tx", type=pair, default=[147, 125], help="text lengths (with blanks)")
    ap.add_argument("--ty", type=pair, default=[431, 388], help="spectrogram frames (>= text lengths)")
    ap.add_argument("--bf16", action="store_true", help="train.bf16_run: true (CPU bf16 autocast)")
    a = ap.parse_args()
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(1234)
    sys.path.insert(0, UPSTREAM_DIR)
    install_stand_ins()
    install_text_package()
    F.gelu = gelu_fixed  # before WavLMModel is built: its GELUActivation keeps F.gelu
    try:
        import transformers  # noqa: F401
        import vector_quantize_pytorch  # noqa: F401
    except ImportError as e:
        sys.exit(f"error: {e}: run this with build/bench-venv/bin/python (bench/setup-venv.sh makes it)")
    from torch.cuda.amp import GradScaler

    with open(a.config, encoding="utf-8") as f:
        hps = HParams(**json.load(f))
    if a.bf16:
        hps.train["bf16_run"] = True
        import autocast_compat  # bench/autocast_compat.py: torch 1.13's CPU norms and bf16 inputs

        autocast_compat.install()
        print(f"  bf16 autocast with {autocast_compat.NOTE} (bench/autocast_compat.py)")
    nets, optims = build(hps)
    for n in nets[:4]:
        if n is not None:
            n.train()
    scaler = GradScaler(enabled=hps.train.bf16_run)
    batch = make_batch(hps, a.tx, a.ty)
    load = os.getloadavg()[0]
    n_params = [sum(p.numel() for p in n.parameters()) if n is not None else 0 for n in nets[:4]]
    n_params.append(sum(p.numel() for p in nets[4].wavlm.parameters()))
    blas = sorted({ln.split()[-1].rsplit("/", 2)[-2] for ln in open("/proc/self/maps") if "libblas" in ln})
    print(f"PyTorch {torch.__version__} train step{' (bf16 autocast)' if hps.train.bf16_run else ''}: {a.config}, "
          f"{threads} threads, BLAS {','.join(blas) or '?'}, load average {load:.2f}")
    print(f"  batch {len(a.tx)}: T_x {a.tx}, T_y {a.ty}; parameters: net_g {n_params[0]}, net_d {n_params[1]}, "
          f"net_dur_disc {n_params[2]}, net_wd {n_params[3]}, WavLM {n_params[4]}")
    sys.stdout.flush()

    times, cpu, phases = [], [], []
    for s in range(-1, a.steps):  # s = -1: warm-up
        marks = []
        t0, c0 = time.perf_counter(), time.process_time()

        def mark(name):
            marks.append((name, time.perf_counter()))

        lg, ld, gn = train_step(hps, nets, optims, scaler, batch, s + 1, mark)
        dt, dc = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
        if s < 0:
            print(f"  warm-up step {dt:.1f} ms (loss_gen_all {lg:.4g}, loss_disc {ld:.4g}, grad_norm_g {gn:.4g})")
            continue
        times.append(dt)
        cpu.append(dc)
        prev = t0
        phases.append([])
        for name, t in marks:
            phases[-1].append((name, (t - prev) * 1e3))
            prev = t
        print(f"  step {s + 1}: {dt:.1f} ms (process CPU {dc:.1f} ms)")
        sys.stdout.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    med = float(np.median(times))
    print(f"\nfull step: median {med:.1f} ms, min {min(times):.1f} ms over {a.steps} steps (after 1 warm-up); "
          f"process CPU median {float(np.median(cpu)):.1f} ms")
    print(f"peak memory: process max RSS {rss:.1f} MiB")
    print(f"\nstep timeline (median ms over {a.steps} steps):")
    for i, (name, _) in enumerate(phases[0]):
        print(f"  {name:<62} {float(np.median([p[i][1] for p in phases])):9.1f}")
    print(f"RESULT torch step_ms={med:.1f} min_ms={min(times):.1f} cpu_ms={float(np.median(cpu)):.1f} "
          f"max_rss_mib={rss:.1f}")


if __name__ == "__main__":
    main()
