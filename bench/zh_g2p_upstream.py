#!/usr/bin/env python3
"""Times upstream Bert-VITS2 v2.3's Chinese front-end (text_normalize + g2p) on the sentences of a
text_zh cases.jsonl: start-up (imports, jieba's dictionary, the first sentence) and the per-sentence time
after it (best of REPEAT passes over all sentences). Benchmark only; needs jieba==0.42.1 pypinyin==0.53.0
cn2an==0.5.22 and upstream's text/ folder of tag v2.3.
  bench/zh_g2p_upstream.py UPSTREAM_DIR CASES_JSONL [REPEAT]
Prints: startup_s=... per_sentence_ms=... sentences=N
"""
import contextlib, importlib.machinery, io, json, os, sys, time, types

t0 = time.perf_counter()
up, cases = sys.argv[1], sys.argv[2]
repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
pkg = types.ModuleType("text")
pkg.__spec__ = importlib.machinery.ModuleSpec("text", None)
pkg.__path__ = [os.path.join(up, "text")]
pkg.__spec__.submodule_search_locations = pkg.__path__
sys.modules["text"] = pkg
import jieba  # noqa: E402

jieba.setLogLevel(60)
import text.chinese as zh  # noqa: E402

texts = [json.loads(l)["text"] for l in open(cases, encoding="utf-8") if l.strip()]


def one(t):
    with contextlib.redirect_stdout(io.StringIO()):
        return zh.g2p(zh.text_normalize(t))


one(texts[0])
startup = time.perf_counter() - t0
best = None
for _ in range(repeat):
    t1 = time.perf_counter()
    for t in texts:
        one(t)
    dt = time.perf_counter() - t1
    best = dt if best is None else min(best, dt)
print("startup_s=%.3f per_sentence_ms=%.4f sentences=%d" % (startup, 1000 * best / len(texts), len(texts)))
