#!/usr/bin/python3
"""ddp_ref.py - makes tests/ddp_F01_2ranks.safetensors: upstream Bert-VITS2 v2.3's own training step
(train_ms.train_and_evaluate for one batch) under torch.distributed with the gloo backend, two
processes on CPU, each network wrapped in DistributedDataParallel as train_ms.run() wraps it
(bucket_cap_mb=512). NOT run by `make test`; tests/test_ddp.c reads its output.

    UPSTREAM_DIR=/path/to/Bert-VITS2-v2.3 GOLDEN=../shared/golden \\
        python3 tests/ref/ddp_ref.py tests/ddp_F01_2ranks.safetensors

Setup = golden case F01 (its config, tiny WavLM, reduced-width discriminators, initial parameters
param.<net>.*, every dropout p = 0): rank 0 trains on F01's batch with F01's recorded draws; rank 1
on a DIFFERENT batch (F01's two utterances in the other order, speakers shifted by one, BERT
features scaled by 0.5) with its own draws (torch.Generator seeded 1). train_and_evaluate is called
with rank=1 on both processes, as F01 did, so its logging/evaluation/checkpoint branch stays off;
the process group's ranks are 0 and 1.

Stored (F32 unless said): r1.in.* (rank 1's batch; rank 0's is F01's in.*), r1.noise.NNN.<fn>
(rank 1's draws in call order; rank 0's are F01's noise.*), loss.* (rank 0's losses, F64, as
train_ms computes them), gnorm.* (grad norms, F64: the same on both ranks), grad.<net>.<key> (p.grad
when each optimizer.step() ran = DDP's averaged gradient), after.<net>.<key> (parameters after the
step). For tensors of more than SAMPLE_ABOVE elements only SAMPLES elements are kept
(<name>.idx I64 flat indices, <name> their values) to keep the file under 2 MB.
Needs Debian's python3-torch (1.13) and python3-torchaudio, plus transformers (upstream's WavLMLoss
loads the WavLM with AutoModel.from_pretrained) and librosa (mel filterbank): made with a venv
(`python3 -m venv --system-site-packages`) holding transformers==4.30.2, librosa==0.10.1,
scipy==1.11.4 and numba==0.58.1 (versions that accept Debian's numpy 1.24; remove any newer numpy pip
pulls in, or torch.from_numpy fails). Upstream-only imports the step does not use are stubbed as in
check_ckpt_with_upstream.py; torch >= 2 CUDA switches train_ms sets at import are no-ops here; GELU's
backward is given a contiguous gradient (a Debian torch 1.13 bug the golden files also worked around,
shared/NOTES.md).
"""
import json
import os
import struct
import sys
import tempfile
import types

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_ABOVE = 256
SAMPLES = 32


# ---------------------------------------------------------------- safetensors (no extra package)

def st_read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        base = 8 + n
        out = {}
        dt = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
        for k, v in head.items():
            if k == "__metadata__":
                continue
            a, b = v["data_offsets"]
            f.seek(base + a)
            out[k] = np.frombuffer(f.read(b - a), dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()
        return out


def st_write(path, tensors, meta):
    names = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}
    head, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        b = a.tobytes()
        head[k] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    head["__metadata__"] = meta
    h = json.dumps(head).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- upstream, as train_ms.run builds it

def import_upstream(upstream):
    sys.path.insert(0, HERE)
    import check_ckpt_with_upstream as ck

    sys.path.insert(0, upstream)
    ck.stub_missing_modules()
    ck.load_text_symbols(upstream)
    try:
        import vector_quantize_pytorch  # noqa: F401
    except ImportError:  # models.py imports it and never uses it
        vq = types.ModuleType("vector_quantize_pytorch")
        vq.VectorQuantize = None
        sys.modules["vector_quantize_pytorch"] = vq
    try:
        __import__("torch.utils.tensorboard")
    except ImportError:  # train_ms imports SummaryWriter; rank=1 never writes
        tb = types.ModuleType("torch.utils.tensorboard")
        tb.SummaryWriter = None
        sys.modules["torch.utils.tensorboard"] = tb
    try:
        import tqdm  # noqa: F401
    except ImportError:
        tq = types.ModuleType("tqdm")
        tq.tqdm = lambda it, *a, **k: it
        sys.modules["tqdm"] = tq
    import logging

    tools, log = types.ModuleType("tools"), types.ModuleType("tools.log")  # data_utils: loguru logger
    tools.__path__ = []
    log.logger = logging.getLogger("upstream")
    sys.modules["tools"], sys.modules["tools.log"] = tools, log
    sys.modules["text"].cleaned_text_to_sequence = None  # data_utils imports it; the dataset is not used
    cfg = types.ModuleType("config")  # train_ms: `from config import config` (config.yml machinery)
    cfg.config = types.SimpleNamespace(train_ms_config=types.SimpleNamespace(), openi_token=None, mirror=None)
    sys.modules["config"] = cfg
    for name in ("sdp_kernel", "enable_flash_sdp", "enable_mem_efficient_sdp"):  # torch >= 2.0 only; CUDA
        if not hasattr(torch.backends.cuda, name):
            setattr(torch.backends.cuda, name, lambda *a, **k: None)
    import train_ms
    import mel_processing
    from librosa.filters import mel

    # upstream calls librosa.filters.mel positionally (librosa < 0.10); same function, keywords
    mel_processing.librosa_mel_fn = lambda sr, n_fft, n_mels, fmin, fmax: mel(sr=sr, n_fft=n_fft, n_mels=n_mels,
                                                                              fmin=fmin, fmax=fmax)
    return train_ms


def reduced_mpd(models, table):
    """MultiPeriodDiscriminator with the golden's reduced widths (README 'Discriminators')."""
    from torch.nn.utils import weight_norm

    d = models.MultiPeriodDiscriminator(False)

    def conv(e):
        if e["type"] == "Conv1d":
            return weight_norm(torch.nn.Conv1d(e["cin"], e["cout"], e["k"], e["s"], groups=e["groups"],
                                               padding=e["pad"]))
        return weight_norm(torch.nn.Conv2d(e["cin"], e["cout"], tuple(e["k"]), tuple(e["s"]),
                                           padding=tuple(e["pad"])))

    for disc in d.discriminators:
        kind = "DiscriminatorS" if isinstance(disc, models.DiscriminatorS) else "DiscriminatorP"
        disc.convs = torch.nn.ModuleList([conv(e) for e in table[kind + ".convs"]])
        disc.conv_post = conv(table[kind + ".conv_post"])
    return d


BATCH_ORDER = ["x", "x_lengths", "spec", "spec_lengths", "y", "y_lengths", "speakers", "tone", "language", "bert",
               "ja_bert", "en_bert"]  # data_utils.TextAudioSpeakerCollate


def train_one_batch(train_ms, hps, nets, optims, scheds, tensors):
    """train_ms.train_and_evaluate for epoch 1 over a loader of one batch (`tensors` in BATCH_ORDER),
    on CPU, with rank 1 (no logging, evaluation or checkpoints) and global_step 0. `nets` as that
    revision of train_ms takes them (v2.3 tag: 4 networks; later: 4 plus the WavLMLoss)."""
    import contextlib

    class Loader:
        batch_sampler = types.SimpleNamespace(set_epoch=lambda e: None)

        def __iter__(self):
            return iter([tensors])

        def __len__(self):
            return 1

    torch.Tensor.cuda = lambda self, *a, **k: self  # CPU run of train_ms's .cuda(local_rank) calls
    assert not hps.train.bf16_run
    train_ms.autocast = lambda *a, **k: contextlib.nullcontext()  # enabled=False; CUDA's class probes bf16
    train_ms.global_step = 0
    train_ms.train_and_evaluate(1, "cpu", 1, hps, nets, optims, scheds, torch.cuda.amp.GradScaler(enabled=False),
                                [Loader(), None], None, None)


def load(net, golden, prefix):
    sd = net.state_dict()
    for k in sd:
        sd[k] = torch.from_numpy(golden[prefix + k])
    net.load_state_dict(sd)


# ---------------------------------------------------------------- recorded draws

class Draws:
    """torch.randn_like / torch.randn / torch.rand replaced: replay a list, or draw from a seeded
    generator and record (rank 1)."""

    def __init__(self, replay=None, seed=None):
        self.replay, self.rec = replay, []
        self.gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.orig = (torch.randn_like, torch.randn, torch.rand)

    def _next(self, fn, shape, dtype):
        if self.replay is not None:
            name, v = self.replay.pop(0)
            assert name.endswith(fn) and tuple(v.shape) == tuple(shape), (name, fn, v.shape, shape)
            return torch.from_numpy(v).to(dtype)
        draw = self.orig[2] if fn == "rand" else self.orig[1]
        v = draw(tuple(shape), generator=self.gen, dtype=dtype)
        self.rec.append((fn, v.numpy().copy()))
        return v

    def install(self):
        def randn_like(t, *a, **k):
            return self._next("randn_like", t.shape, t.dtype)

        def shape_of(a):
            return tuple(a[0]) if len(a) == 1 and isinstance(a[0], (list, tuple, torch.Size)) else tuple(a)

        def randn(*a, **k):
            return self._next("randn", shape_of(a), k.get("dtype") or torch.float32)

        def rand(*a, **k):
            return self._next("rand", shape_of(a), k.get("dtype") or torch.float32)

        torch.randn_like, torch.randn, torch.rand = randn_like, randn, rand


# ---------------------------------------------------------------- one process

class _Gelu(torch.autograd.Function):
    """Debian torch 1.13's GELU backward is wrong for a non-contiguous incoming gradient (NaN /
    1e37; shared/NOTES.md): the same GELU, its backward fed a contiguous gradient."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return torch._C._nn.gelu(x, approximate=approximate)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return torch.ops.aten.gelu_backward(g.contiguous(), x, approximate=ctx.approximate), None


def gelu(x, approximate="none"):
    return _Gelu.apply(x, approximate)


def second_batch(golden):
    """Rank 1's batch: F01's two utterances swapped, speakers + 1 (mod 3), BERT features x 0.5."""
    b = {k[3:]: golden[k] for k in golden if k.startswith("in.")}
    out = {}
    for k, v in b.items():
        out[k] = v[::-1].copy()
    out["speakers"] = (out["speakers"] + 1) % 3
    for k in ("bert", "ja_bert", "en_bert"):
        out[k] = (out[k] * np.float32(0.5)).astype(np.float32)
    return out


def worker(rank, world, upstream, golden_dir, out_dir, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.set_float32_matmul_precision("highest")
    torch.nn.functional.gelu = gelu  # before transformers builds the WavLM (its GELUActivation keeps F.gelu)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    train_ms = import_upstream(upstream)
    torch.set_float32_matmul_precision("highest")  # train_ms sets 'medium' (CUDA only) at import
    import models
    import utils
    from torch.nn.parallel import DistributedDataParallel as DDP

    golden = st_read(os.path.join(golden_dir, "F01_train_step.safetensors"))
    manifest = json.load(open(os.path.join(golden_dir, "manifest.json")))
    case = [c for c in manifest["cases"] if c["name"] == "F01_train_step"][0]
    conf = json.loads(json.dumps(case["config"]["config"]))
    conf["model"]["slm"]["model"] = os.path.join(golden_dir, "wavlm_tiny")
    hps = utils.HParams(**conf)
    hps.model_dir = tempfile.mkdtemp(prefix="bv_ddp_ref_")
    from text.symbols import symbols

    net_g = models.SynthesizerTrn(len(symbols), hps.data.filter_length // 2 + 1,
                                  hps.train.segment_size // hps.data.hop_length, n_speakers=hps.data.n_speakers,
                                  mas_noise_scale_initial=0.01, noise_scale_delta=2e-6, **hps.model)
    net_dur_disc = models.DurationDiscriminator(hps.model.hidden_channels, hps.model.hidden_channels, 3, 0.1,
                                                gin_channels=hps.model.gin_channels)
    net_d = reduced_mpd(models, case["config"]["net_d"])
    net_wd = models.WavLMDiscriminator(hps.model.slm.hidden, hps.model.slm.nlayers, hps.model.slm.initial_channel)
    nets = {"net_g": net_g, "net_d": net_d, "net_dur_disc": net_dur_disc, "net_wd": net_wd}
    for name, net in nets.items():
        load(net, golden, "param." + name + ".")
        for m in net.modules():  # F01: every nn.Dropout p = 0
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    t = hps.train
    optims = {n: torch.optim.AdamW(filter(lambda p: p.requires_grad, net.parameters()), t.learning_rate,
                                   betas=t.betas, eps=t.eps) for n, net in nets.items()}
    scheds = {n: torch.optim.lr_scheduler.ExponentialLR(o, gamma=t.lr_decay, last_epoch=-1) for n, o in optims.items()}
    ddp = {n: DDP(net, bucket_cap_mb=512) for n, net in nets.items()}

    # p.grad at each optimizer.step() (the averaged gradient), in step order
    grads = {}
    for n, o in optims.items():
        def step(o=o, n=n, orig=o.step):
            grads[n] = {k: p.grad.detach().clone() for k, p in nets[n].named_parameters() if p.grad is not None}
            return orig()
        o.step = step
    # the losses upstream computes (rank 0 keeps its own, as it logs them)
    losses = {}

    def tap(name, fn):
        def f(*a, **k):
            r = fn(*a, **k)
            losses.setdefault(name, []).append(r)
            return r
        return f

    for name in ("discriminator_loss", "generator_loss", "feature_loss", "kl_loss"):
        setattr(train_ms, name, tap(name, getattr(train_ms, name)))
    import commons

    train_ms.commons = types.SimpleNamespace(**{k: getattr(commons, k) for k in dir(commons) if not k.startswith("__")})
    train_ms.commons.clip_grad_value_ = tap("clip_grad_value_", commons.clip_grad_value_)
    l1 = train_ms.F.l1_loss
    train_ms.F = types.SimpleNamespace(**{k: getattr(train_ms.F, k) for k in dir(train_ms.F) if not k.startswith("__")})
    train_ms.F.l1_loss = tap("l1_loss", l1)
    import losses as up_losses

    wl_cls = up_losses.WavLMLoss
    for m in ("discriminator", "generator", "forward"):
        setattr(wl_cls, m, tap("wl." + m, getattr(wl_cls, m)))

    if rank == 0:
        batch = {k[3:]: golden[k] for k in golden if k.startswith("in.")}
        draws = Draws(replay=[(k, golden[k]) for k in sorted(golden) if k.startswith("noise.")])
    else:
        batch = second_batch(golden)
        draws = Draws(seed=1)
    tensors = [torch.from_numpy(batch[k].copy()) for k in BATCH_ORDER]
    draws.install()
    order = ("net_g", "net_d", "net_dur_disc", "net_wd")
    train_one_batch(train_ms, hps, [ddp[n] for n in order], [optims[n] for n in order], [scheds[n] for n in order],
                    tensors)
    torch.randn_like, torch.randn, torch.rand = draws.orig
    assert draws.replay in (None, []), "not every recorded draw was used"

    res = {}
    if rank == 1:
        for k, v in batch.items():
            res["r1.in." + k] = v
        for i, (fn, v) in enumerate(draws.rec):
            res["r1.noise.%03d.%s" % (i, fn)] = v.astype(np.float32)
    else:
        f64 = lambda v: np.array(float(v), dtype=np.float64)  # noqa: E731
        dl = losses["discriminator_loss"]  # [net_d D step, dur-disc D step]
        gl = losses["generator_loss"]       # [net_d G step, dur-disc G step]
        res["loss.disc"] = f64(dl[0][0])
        res["loss.dur_disc"] = f64(dl[1][0])
        res["loss.slm"] = f64(losses["wl.discriminator"][0].mean())
        res["loss.gen"] = f64(gl[0][0])
        res["loss.dur_gen"] = f64(gl[1][0])
        res["loss.fm"] = f64(losses["feature_loss"][0])
        res["loss.kl"] = f64(losses["kl_loss"][0] * hps.train.c_kl)
        res["loss.mel"] = f64(losses["l1_loss"][0] * hps.train.c_mel)
        res["loss.lm"] = f64(losses["wl.forward"][0].mean())
        res["loss.lm_gen"] = f64(losses["wl.generator"][0])
        names = ["dur", "d", "wd", "g"]  # optimizer step order
        for i, v in enumerate(losses["clip_grad_value_"]):
            res["gnorm." + names[i]] = f64(v)
        rng = np.random.default_rng(2024)
        for n in ("net_dur_disc", "net_d", "net_wd", "net_g"):
            for k, p in nets[n].named_parameters():
                idx = None
                if p.numel() > SAMPLE_ABOVE:  # the same sampled elements for the grad and the parameter
                    idx = np.sort(rng.choice(p.numel(), SAMPLES, replace=False)).astype(np.int64)
                for fam, arr in (("grad", grads[n][k].numpy()), ("after", p.detach().numpy())):
                    name = "%s.%s.%s" % (fam, n, k)
                    if idx is None:
                        res[name] = arr.astype(np.float32)
                    else:
                        res[name + ".idx"] = idx
                        res[name] = arr.reshape(-1).astype(np.float32)[idx]
    np.savez(os.path.join(out_dir, "rank%d.npz" % rank), **res)
    dist.barrier()
    dist.destroy_process_group()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    upstream = os.environ.get("UPSTREAM_DIR")
    golden_dir = os.path.abspath(os.environ.get("GOLDEN", os.path.join(HERE, "..", "..", "..", "shared", "golden")))
    if not upstream or not os.path.exists(os.path.join(upstream, "train_ms.py")):
        sys.exit("set UPSTREAM_DIR to a Bert-VITS2 v2.3 checkout")
    upstream = os.path.abspath(upstream)
    out_dir = tempfile.mkdtemp(prefix="bv_ddp_ref_out_")
    port = 29500 + os.getpid() % 1000
    mp.spawn(worker, args=(2, upstream, golden_dir, out_dir, port), nprocs=2, join=True)
    res = {}
    for r in (0, 1):
        with np.load(os.path.join(out_dir, "rank%d.npz" % r)) as z:
            res.update({k: z[k] for k in z.files})
    st_write(sys.argv[1], res, {"case": "ddp_F01_2ranks", "made_by": "tests/ref/ddp_ref.py",
                                "torch": torch.__version__, "backend": "gloo", "world_size": "2"})
    print("wrote %s: %d tensors, %d bytes" % (sys.argv[1], len(res), os.path.getsize(sys.argv[1])))


if __name__ == "__main__":
    main()
