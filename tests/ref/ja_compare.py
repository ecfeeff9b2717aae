#!/usr/bin/env python3
"""Compare `bv2 g2p --language JP --norm` with golden/text_ja/cases.jsonl, or with a file of the same
form written by running upstream's japanese.py (lines {"text", "error"} where upstream raised).
Reference script, not run by make.

  tests/ref/ja_compare.py [CASES] [-v]   prints the exact count and the first differing field of each miss
"""
import json, subprocess, sys

path = next((a for a in sys.argv[1:] if not a.startswith("-")), "../shared/golden/text_ja/cases.jsonl")
cases = [json.loads(l) for l in open(path, encoding="utf-8")]
inp = "".join(c["text"].replace("\n", " ") + "\n" for c in cases)
out = subprocess.run(["build/bv2", "g2p", "--language", "JP", "--norm"], input=inp, capture_output=True, text=True)
lines = out.stdout.split("\n")
exact = 0
for i, c in enumerate(cases):
    if "error" in c:  # upstream raised: bv2 must refuse the line (blank output)
        if (lines[i] if i < len(lines) else "") == "":
            exact += 1
        else:
            print(f"#{i} {c['text']}  [upstream fails with {c['error']}, bv2 printed a line]")
        continue
    want = "|".join([c["norm_text"], " ".join(c["phones"]), " ".join(map(str, c["tones"])), " ".join(map(str, c["word2ph"]))])
    got = lines[i] if i < len(lines) else ""
    if got == want:
        exact += 1
        continue
    g = got.split("|")
    w = want.split("|")
    names = ["norm", "phones", "tones", "word2ph"]
    bad = [names[k] for k in range(4) if k >= len(g) or g[k] != w[k]]
    print(f"#{i} {c['text']}  [{','.join(bad)}]")
    if "-v" in sys.argv:
        for k in range(4):
            if k >= len(g) or g[k] != w[k]:
                print("   want", w[k]); print("   got ", g[k] if k < len(g) else "")
print(f"{exact} of {len(cases)} exact")
