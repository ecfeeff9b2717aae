#!/usr/bin/python3
"""infer_torch.py - the PyTorch side of bench/infer.sh: upstream's SynthesizerTrn.infer (Bert-VITS2 2.3,
imported from UPSTREAM_DIR, never copied) on the weights and inputs bench_infer.c wrote into DIR, timed
the same way (one warm-up, then the median and minimum of --reps runs), printing

    INFER torch <median ms> <min ms> <audio seconds> <frames>

The model is built as infer.py's get_net_g builds it (SynthesizerTrn(len(symbols), filter_length // 2 + 1,
segment_size // hop_length, n_speakers, **hps.model), eval) and filled from DIR/G_bench.pth, the
inference-only export (no enc_q: its random init is never used by infer). The inputs follow get_text:
phones through cleaned_text_to_sequence and add_blank's intersperse, zero features for the text's own
language (what bv2 uses without a BERT model) and, for the other two, the torch.randn(1024, n) stand-ins
bench_infer.c drew (DIR/bert_inactive.pt), so that both sides get the same durations and do the same work.

    infer_torch.py DIR [--reps N] [--bf16]     threads: BENCH_THREADS (default 2); upstream: UPSTREAM_DIR

--bf16 runs the same net_g.infer under torch.autocast("cpu", dtype=torch.bfloat16), the switch a PyTorch
user has (upstream's infer has none), and prints "INFER torch_bf16 ..." instead (torch 1.13 needs
bench/autocast_compat.py for upstream's LayerNorms under it). Python: build/bench-venv
(bench/setup-venv.sh; it has the stand-in for vector_quantize_pytorch that v2.3's models.py imports).

Only `text.symbols` and the model files are imported: text/__init__.py would load BERT models and
write config.yml, and monotonic_align needs numba (training only), so both are stubbed.
"""
import importlib.util
import json
import os
import statistics
import sys
import time
import types

sys.dont_write_bytecode = True  # never leave __pycache__ in the upstream checkout


def load_upstream(upstream):
    sys.path.insert(0, upstream)
    ma = types.ModuleType("monotonic_align")  # training-only (maximum_path); needs numba
    ma.maximum_path = None
    sys.modules["monotonic_align"] = ma
    spec = importlib.util.spec_from_file_location("bv_upstream_symbols", os.path.join(upstream, "text", "symbols.py"))
    sym = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sym)
    text = types.ModuleType("text")
    text.symbols, text.num_tones, text.num_languages = sym.symbols, sym.num_tones, sym.num_languages
    sys.modules["text"] = text
    import commons
    import models
    return models, commons, sym


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    folder, reps, bf16 = args[0], 5, "--bf16" in args
    if "--reps" in args:
        reps = int(args[args.index("--reps") + 1])
    try:
        import torch
    except ImportError as e:
        print(f"infer_torch.py: PyTorch not available ({e}); skipping (Debian: apt-get install python3-torch)")
        return 0
    upstream = os.environ.get("UPSTREAM_DIR", "/work/upstream")
    if not os.path.isfile(os.path.join(upstream, "models.py")):
        print(f"infer_torch.py: no upstream checkout at {upstream} (set UPSTREAM_DIR); skipping")
        return 0
    threads = int(os.environ.get("BENCH_THREADS", "2"))
    torch.set_num_threads(threads)
    models, commons, sym = load_upstream(upstream)
    if bf16:
        import autocast_compat  # bench/autocast_compat.py: torch 1.13's CPU norms and bf16 inputs

        autocast_compat.install()
        print(f"bf16 autocast with {autocast_compat.NOTE} (bench/autocast_compat.py)")

    with open(os.path.join(folder, "config.json")) as f:
        hps = json.load(f)
    net_g = models.SynthesizerTrn(
        len(sym.symbols),
        hps["data"]["filter_length"] // 2 + 1,
        hps["train"]["segment_size"] // hps["data"]["hop_length"],
        n_speakers=hps["data"]["n_speakers"],
        **hps["model"],
    )
    net_g.eval()
    ck = torch.load(os.path.join(folder, "G_bench.pth"), map_location="cpu")
    missing, unexpected = net_g.load_state_dict(ck["model"], strict=False)
    bad = [k for k in missing if not k.startswith("enc_q.")] + list(unexpected)
    if bad:
        print(f"infer_torch.py: the export does not match upstream's state dict: {bad[:5]}")
        return 1

    with open(os.path.join(folder, "input.txt")) as f:
        lines = f.read().splitlines()
    phones, tones = [s.split() for s in lines[0].split("|")[:2]]
    opts = dict(line.split() for line in lines[1:] if line.strip())
    sid = {s: i for i, s in enumerate(sym.symbols)}
    lang = sym.language_id_map["EN"]
    ph = commons.intersperse([sid[p] for p in phones], 0)
    tn = commons.intersperse([int(t) + sym.language_tone_start_map["EN"] for t in tones], 0)
    lg = commons.intersperse([lang] * len(phones), 0)
    n = len(ph)

    # get_text for EN draws torch.randn(1024, n) for ZH and JP; the ones bench_infer.c drew are used
    # so both sides get the same durations (the stand-ins feed the duration predictor too)
    stand_in = torch.load(os.path.join(folder, "bert_inactive.pt"))
    assert stand_in["bert"].shape == (1024, n), (stand_in["bert"].shape, n)

    def run():
        bert = stand_in["bert"]
        ja_bert = stand_in["ja_bert"]
        en_bert = torch.zeros(1024, n)  # no BERT model: zeros, as bv2
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            x = torch.LongTensor(ph).unsqueeze(0)
            o = net_g.infer(x, torch.LongTensor([n]), torch.LongTensor([0]), torch.LongTensor(tn).unsqueeze(0),
                            torch.LongTensor(lg).unsqueeze(0), bert.unsqueeze(0), ja_bert.unsqueeze(0),
                            en_bert.unsqueeze(0), sdp_ratio=float(opts["sdp_ratio"]),
                            noise_scale=float(opts["noise_scale"]), noise_scale_w=float(opts["noise_scale_w"]),
                            length_scale=float(opts["length_scale"]))[0][0, 0].data.cpu().float().numpy()
        return o

    torch.manual_seed(7)
    run()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        audio = run()
        times.append((time.perf_counter() - t0) * 1e3)
    rate, hop = hps["data"]["sampling_rate"], hps["data"]["hop_length"]
    secs = len(audio) / rate
    med = statistics.median(times)
    print(f"PyTorch {torch.__version__} infer{' (bf16 autocast)' if bf16 else ''}: {len(phones) - 2} phones + 2 pads ({n} symbols), {len(audio) // hop} frames = "
          f"{secs:.2f} s of audio, {threads} threads")
    print(f"  median {med:.1f} ms, min {min(times):.1f} ms over {reps} runs: real-time factor {med / 1e3 / secs:.4f} "
          f"(median), {min(times) / 1e3 / secs:.4f} (min)")
    import resource
    print(f"  process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")
    print(f"INFER {'torch_bf16' if bf16 else 'torch'} {med:.3f} {min(times):.3f} {secs:.4f} {len(audio) // hop}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
