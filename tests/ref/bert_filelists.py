#!/usr/bin/env python3
"""Rebuilds the filelists of a golden BERT set (golden/bert/filelists/*.list) when they are empty.

The generator (golden/gen/bert_cases.py) truncates its own filelists in its last step (it opens each
list for writing before reading it back to make the paths relative), so the shipped train.list and
val.list hold nothing while expected/*.bert.pt are complete. The lines are fully determined by the
generator's seed: this script replays its random draws in the same order (character shuffles, the
size choices, the samples of the ZH/EN/JP cases), runs upstream's English front-end with the set's own
DeBERTa tokenizer for the EN lines, checks the replay against the set (model sizes, vocab.txt, the
number of columns of every expected/*.bert.pt), and writes the two lists.

  /usr/bin/python3-venv-with-transformers bert_filelists.py UPSTREAM_DIR GOLDEN_DIR OUT_DIR [SEED]

UPSTREAM_DIR: Bert-VITS2 v2.3 (text/english.py; text/cmudict.rep = CMUdict 0.6 copied in).
Reference script only (needs torch, transformers==4.30.2, sentencepiece, inflect); never run by the
build or the tests, which read the lists it wrote (tests/data/bert_golden_filelists/).
"""
import importlib.machinery
import json
import os
import random
import sys
import types

import torch

up, golden, out = sys.argv[1:4]
out = os.path.abspath(out)
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20261206
ncases = 40
gb = os.path.join(golden, "bert")
rng = random.Random(seed)
zh = [json.loads(l) for l in open(os.path.join(golden, "text_zh", "cases.jsonl"), encoding="utf-8")]
en = [json.loads(l) for l in open(os.path.join(golden, "text_en", "cases.jsonl"), encoding="utf-8")]
ja = [json.loads(l) for l in open(os.path.join(golden, "text_ja", "cases.jsonl"), encoding="utf-8")]


def cfg(name):
    return json.load(open(os.path.join(gb, "bert", name, "config.json")))


# the generator's draws, in its order
chars = sorted({ch for c in zh for ch in c["norm_text"]})
rng.shuffle(chars)
keep = sorted(chars[: int(len(chars) * 0.97)])
vocab = open(os.path.join(gb, "bert", "chinese-roberta-wwm-ext-large", "vocab.txt"), encoding="utf-8").read().split("\n")
assert vocab[9:-1] == keep, "ZH vocabulary differs: not the generator's seed or data"
h = rng.choice([48, 64])
bl = rng.choice([3, 4])
dl = rng.choice([3, 4])
db = rng.choice([32, 256])
jchars = sorted({ch for c in ja for ch in c["text"] + c["norm_text"]})
rng.shuffle(jchars)
jl = rng.choice([3, 4])
jb = rng.choice([64, 256])
zc, dc, jc = cfg("chinese-roberta-wwm-ext-large"), cfg("deberta-v3-large"), cfg("deberta-v2-large-japanese-char-wwm")
assert (zc["hidden_size"], zc["num_hidden_layers"]) == (h, bl), (zc["hidden_size"], zc["num_hidden_layers"], h, bl)
assert (dc["num_hidden_layers"], dc["position_buckets"]) == (dl, db)
assert (jc["num_hidden_layers"], jc["position_buckets"]) == (jl, jb)

# upstream's English front-end, run from the set's folder so ./bert/deberta-v3-large is its tokenizer
os.chdir(gb)
sys.path.insert(0, up)
g2pmod = types.ModuleType("g2p_en")


class G2p:  # the generator's stand-in for OOV words
    def __call__(self, w):
        return ["AH0"] * max(1, len(w) // 2)


g2pmod.G2p = G2p
sys.modules["g2p_en"] = g2pmod
pkg = types.ModuleType("text")
pkg.__spec__ = importlib.machinery.ModuleSpec("text", None)
pkg.__path__ = [os.path.join(up, "text")]
pkg.__spec__.submodule_search_locations = pkg.__path__
sys.modules["text"] = pkg
import text.symbols as ts  # noqa: E402

for k in dir(ts):
    if not k.startswith("_"):
        setattr(pkg, k, getattr(ts, k))
import text.english as english  # noqa: E402


def line_for(name, lang, norm, phones, tones, w2p):
    return "|".join([f"wavs/{name}.wav", "spk0", lang, norm, " ".join(phones), " ".join(map(str, tones)),
                     " ".join(map(str, w2p))])


lines = []
for i, c in enumerate(rng.sample(zh, min(ncases, len(zh)))):
    lines.append((f"zh_{i:03d}", line_for(f"zh_{i:03d}", "ZH", c["norm_text"], c["phones"], c["tones"], c["word2ph"])))
for i, c in enumerate(rng.sample(en, min(ncases, len(en)))):
    norm = english.text_normalize(c["text"])
    ph, tn, w2p = english.g2p(norm)
    lines.append((f"en_{i:03d}", line_for(f"en_{i:03d}", "EN", norm, ph, tn, w2p)))
for i, c in enumerate(rng.sample(ja, min(ncases, len(ja)))):
    lines.append((f"ja_{i:03d}", line_for(f"ja_{i:03d}", "JP", c["norm_text"], c["phones"], c["tones"], c["word2ph"])))

kept = []
for name, line in lines:
    p = os.path.join(gb, "expected", name + ".bert.pt")
    if not os.path.exists(p):  # upstream rejected the line
        continue
    n_ph = len(line.split("|")[4].split(" "))
    t = torch.load(p)
    assert tuple(t.shape) == (h, 2 * n_ph + 1), (name, tuple(t.shape), n_ph)
    kept.append(line)
assert len(kept) == len(os.listdir(os.path.join(gb, "expected")))
n_val = max(1, len(kept) // 8)
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "train.list"), "w", encoding="utf-8").write("\n".join(kept[n_val:]) + "\n")
open(os.path.join(out, "val.list"), "w", encoding="utf-8").write("\n".join(kept[:n_val]) + "\n")
print(f"{len(kept)} lines, replay checked against {gb}")
