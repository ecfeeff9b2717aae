#!/usr/bin/env python3
"""Upstream Bert-VITS2 v2.3's Chinese front-end on stdin lines, printed as `bv2 g2p --language ZH --norm`
prints them: norm_text|phones|tones|word2ph, one line per input line; a line upstream cannot handle (an
exception, or empty after normalization) prints as a blank line, as bv2 does. Reference only (never run by
the build or the tests).

Needs a python with jieba==0.42.1 pypinyin==0.53.0 cn2an==0.5.22, and upstream's text/ folder (chinese.py,
tone_sandhi.py, opencpop-strict.txt, symbols.py) of tag v2.3:
  tests/ref/zh_g2p_upstream.py UPSTREAM_DIR < sentences.txt > upstream.txt
  build/bv2 g2p --language ZH --norm < sentences.txt > bv2.txt; diff upstream.txt bv2.txt
"""
import contextlib, importlib.machinery, io, os, sys, types

up = sys.argv[1]
pkg = types.ModuleType("text")
pkg.__spec__ = importlib.machinery.ModuleSpec("text", None)
pkg.__path__ = [os.path.join(up, "text")]
pkg.__spec__.submodule_search_locations = pkg.__path__
sys.modules["text"] = pkg
import jieba  # noqa: E402

jieba.setLogLevel(60)
import text.chinese as zh  # noqa: E402

for line in sys.stdin:
    line = line.rstrip("\r\n")
    if not line.strip(" \t"):
        print()
        continue
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # tone_sandhi prints "_merge_yi failed"
            norm = zh.text_normalize(line)
            if not norm:
                raise ValueError("empty")
            phones, tones, word2ph = zh.g2p(norm)
        print("%s|%s|%s|%s" % (norm, " ".join(phones), " ".join(map(str, tones)), " ".join(map(str, word2ph))))
    except Exception:
        print()
    sys.stdout.flush()
