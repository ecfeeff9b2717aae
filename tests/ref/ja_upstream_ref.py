#!/usr/bin/env python3
"""Upstream Bert-VITS2 v2.3's Japanese front-end (text/japanese.py) over sentences, for comparing
with `bv2 g2p --language JP --norm` (tests/ref/ja_compare.py reads the output). Reference script:
never run by make or the tests.

  OPEN_JTALK_DICT_DIR=/var/lib/mecab/dic/open-jtalk/naist-jdic \\
    python3 tests/ref/ja_upstream_ref.py UPSTREAM_DIR sentences.txt out.jsonl [--time]

Needs pyopenjtalk-prebuilt==0.3.0 (numpy<2), num2words==0.5.13, jaconv==0.3.4 (a venv; NOTES.md).
UPSTREAM_DIR is a checkout of fishaudio/Bert-VITS2 at tag v2.3. transformers is stood in for by a
character tokenizer: word2ph depends only on the token count, one per character (the real
deberta-v2-large-japanese-char-wwm tokenizer gives one token per character, [UNK] included).
Output lines: {"text","norm_text","phones","tones","word2ph"}, or {"text","error"} where upstream
raised. --time prints the mean time per sentence after start-up (normalize + g2p).
"""
import importlib.machinery, json, os, sys, time, types

up, src, dst = sys.argv[1:4]
tf = types.ModuleType("transformers")


class _CharTokenizer:
    def tokenize(self, s):
        return [c for c in s if not c.isspace()]


tf.AutoTokenizer = type("AutoTokenizer", (), {"from_pretrained": staticmethod(lambda p: _CharTokenizer())})
sys.modules["transformers"] = tf
sys.path.insert(0, up)
pkg = types.ModuleType("text")  # a bare package: text/__init__.py would load BERT models
pkg.__spec__ = importlib.machinery.ModuleSpec("text", None)
pkg.__path__ = [os.path.join(up, "text")]
pkg.__spec__.submodule_search_locations = pkg.__path__
sys.modules["text"] = pkg
import text.symbols as ts

for k in dir(ts):
    if not k.startswith("_"):
        setattr(pkg, k, getattr(ts, k))
import text.japanese as ja

lines = [l.rstrip("\n") for l in open(src, encoding="utf-8") if l.strip()]
ja.g2p(ja.text_normalize("こんにちは。"))  # warm up (dictionary load)
t0, c0 = time.perf_counter(), time.process_time()
with open(dst, "w", encoding="utf-8") as out:
    for s in lines:
        try:
            norm = ja.text_normalize(s)
            phones, tones, word2ph = ja.g2p(norm)
            rec = {"text": s, "norm_text": norm, "phones": phones, "tones": tones, "word2ph": word2ph}
        except Exception as e:  # upstream cannot handle it: bv2 must refuse it too
            rec = {"text": s, "error": type(e).__name__}
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
dt, dc = time.perf_counter() - t0, time.process_time() - c0
if "--time" in sys.argv:
    print(f"upstream: {len(lines)} sentences, per sentence {1e3 * dt / len(lines):.3f} ms wall, "
          f"{1e3 * dc / len(lines):.3f} ms CPU")
