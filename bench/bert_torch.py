#!/usr/bin/env python3
"""bert-gen benchmark, PyTorch side (bench/bert.sh runs it; not part of CI).

  bert_torch.py make OUT GOLDEN_BERT REBUILT_LISTS [SEED]   random real-size models + the golden ZH/EN lines
                                                     in OUT (SEED: small models of drawn settings instead)
  bert_torch.py run OUT UPSTREAM_DIR THREADS         upstream bert_gen.py's process_line on every line
  bert_torch.py compare DIR_A DIR_B                  max |a-b| / tolerance over the *.bert.pt of both

The models have the real sizes of upstream's BERTs (chinese-roberta-wwm-ext-large: BERT 24 x 1024,
vocabulary 21128; deberta-v3-large: DeBERTa-v2 24 x 1024, 128100 tokens, 256 position buckets) with
transformers' random initialisation, saved as model.safetensors; the tokenizers are the golden set's.
Needs torch and transformers==4.30.2 (a venv over Debian's python3-torch).
"""
import json
import os
import shutil
import sys
import time
import types
import importlib.machinery


def make(out, golden_bert, lists, tiny_seed=None):
    """tiny_seed: small models with settings drawn from the seed instead (hidden 32..96, 3..5 layers,
    bucket counts, max_relative_positions, weight formats), a held-back-style parity set."""
    import random
    import torch
    from transformers import BertConfig, BertForMaskedLM, DebertaV2Config, DebertaV2Model
    torch.manual_seed(0 if tiny_seed is None else tiny_seed)
    rng = random.Random(tiny_seed)
    os.makedirs(os.path.join(out, "filelists"), exist_ok=True)
    os.makedirs(os.path.join(out, "wavs"), exist_ok=True)
    zsrc, esrc = os.path.join(golden_bert, "chinese-roberta-wwm-ext-large"), os.path.join(golden_bert, "deberta-v3-large")
    zdir, edir = os.path.join(out, "bert", "chinese-roberta-wwm-ext-large"), os.path.join(out, "bert", "deberta-v3-large")
    for s, d, files in ((zsrc, zdir, ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]),
                        (esrc, edir, ["spm.model", "tokenizer_config.json", "special_tokens_map.json"])):
        os.makedirs(d, exist_ok=True)
        for f in files:
            shutil.copy(os.path.join(s, f), d)
    h, layers, inter, heads = 1024, 24, 4096, 16
    buckets, max_rel, safe = 256, -1, (True, True)
    if tiny_seed is not None:
        h, layers, heads = rng.choice([32, 64, 96]), rng.choice([3, 4, 5]), 4
        inter = 2 * h
        buckets, max_rel = rng.choice([(8, -1), (32, -1), (64, 128), (256, -1), (-1, 24), (-1, -1)])
        safe = (rng.random() < 0.5, rng.random() < 0.5)
        print(f"tiny set: hidden {h}, layers {layers}, buckets {buckets}, max_relative_positions {max_rel}, "
              f"safetensors {safe}")
    zc = BertConfig(vocab_size=21128, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
                    intermediate_size=inter, max_position_embeddings=512, type_vocab_size=2)
    zm = BertForMaskedLM(zc).eval()
    ec = DebertaV2Config(vocab_size=128100, hidden_size=h, num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=inter, max_position_embeddings=512, relative_attention=True,
                         position_buckets=buckets, max_relative_positions=max_rel, pos_att_type=["p2c", "c2p"],
                         norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False, type_vocab_size=0,
                         layer_norm_eps=1e-7, hidden_act="gelu")
    em = DebertaV2Model(ec).eval()
    if tiny_seed is not None:  # larger-than-init weights so differences show, as the golden generator
        with torch.no_grad():
            for p in list(zm.parameters()) + list(em.parameters()):
                p.add_(torch.randn_like(p) * 0.02)
    zm.save_pretrained(zdir, safe_serialization=safe[0])
    em.save_pretrained(edir, safe_serialization=safe[1])
    for name in ("train.list", "val.list"):
        lines = [l for l in open(os.path.join(lists, name), encoding="utf-8") if l.split("|")[2] in ("ZH", "EN")]
        open(os.path.join(out, "filelists", name), "w", encoding="utf-8").write("".join(lines))
    json.dump({"data": {"training_files": "filelists/train.list", "validation_files": "filelists/val.list",
                        "add_blank": True}}, open(os.path.join(out, "config.json"), "w"))


def run(out, up, threads):
    import torch
    torch.set_num_threads(threads)
    os.chdir(out)
    sys.path.insert(0, up)
    cfg = types.ModuleType("config")
    cfg.config = types.SimpleNamespace(bert_gen_config=types.SimpleNamespace(device="cpu", use_multi_device=False),
                                       preprocess_text_config=None)
    sys.modules["config"] = cfg
    jb = types.ModuleType("text.japanese_bert")  # JP lines are not benchmarked: no pyopenjtalk needed
    jb.get_bert_feature = None
    sys.modules["text.japanese_bert"] = jb
    pkg = types.ModuleType("text")
    pkg.__spec__ = importlib.machinery.ModuleSpec("text", None)
    pkg.__path__ = [os.path.join(up, "text")]
    pkg.__spec__.submodule_search_locations = pkg.__path__
    sys.modules["text"] = pkg
    import text.symbols as ts
    for k in dir(ts):
        if not k.startswith("_"):
            setattr(pkg, k, getattr(ts, k))
    src = open(os.path.join(up, "text", "__init__.py"), encoding="utf-8").read()
    exec(compile(src.split("def check_bert_models")[0], "text/__init__.py", "exec"), pkg.__dict__)
    pkg.check_bert_models = lambda: None
    try:
        import utils  # noqa: F401  (bert_gen imports it; scipy may be missing)
    except ImportError:
        sys.modules["utils"] = types.ModuleType("utils")
    t0 = time.perf_counter()
    import bert_gen
    lines = []
    for name in ("train.list", "val.list"):
        lines += open(os.path.join("filelists", name), encoding="utf-8").readlines()
    first = None
    for i, line in enumerate(lines):
        bert_gen.process_line((line, True))
        if i == 0:
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    print(f"BERT torch lines={len(lines)} total_s={total:.3f} first_line_s={first:.3f} "
          f"per_line_after_first_s={(total - first) / max(1, len(lines) - 1):.4f}")


def compare(a, b):
    import torch
    worst, n = 0.0, 0
    for f in sorted(os.listdir(a)):
        if not f.endswith(".bert.pt"):
            continue
        x, e = torch.load(os.path.join(a, f)), torch.load(os.path.join(b, f))
        tol = 1e-4 * max(1, e.abs().max().item()) + 1e-3 * e.abs()
        worst = max(worst, ((x - e).abs() / tol).max().item())
        n += 1
    print(f"BERT compare files={n} worst_error_over_tolerance={worst:.3g}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "make":
        make(*sys.argv[2:5], *(int(x) for x in sys.argv[5:6]))
    elif mode == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        compare(sys.argv[2], sys.argv[3])
