#!/bin/bash
# ja_frontend.sh - the Japanese front-end, bv2 beside upstream v2.3's Python (pyopenjtalk), on the
# same sentences (default: the golden text_ja cases), same machine. Not part of make test.
#
#   UPSTREAM_DIR=<Bert-VITS2 v2.3 checkout> PYTHON=<venv python with pyopenjtalk-prebuilt 0.3.0,
#   num2words 0.5.13, jaconv 0.3.4> bench/ja_frontend.sh [sentences.txt]
#
# Reports per-sentence time after start-up (CPU and wall) for both, bv2's start-up time, and checks
# that both give the same output (tests/ref/ja_compare.py).
set -eu
UPSTREAM_DIR=${UPSTREAM_DIR:?set UPSTREAM_DIR to a Bert-VITS2 v2.3 checkout}
PYTHON=${PYTHON:-python3}
export OPEN_JTALK_DICT_DIR=${OPEN_JTALK_DICT_DIR:-/var/lib/mecab/dic/open-jtalk/naist-jdic}
BV2=${BV2:-build/bv2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then cp "$1" "$tmp/s.txt"; else
    "$PYTHON" -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8"): print(json.loads(l)["text"])' ../shared/golden/text_ja/cases.jsonl >"$tmp/s.txt"
fi
n=$(wc -l <"$tmp/s.txt")
"$PYTHON" tests/ref/ja_upstream_ref.py "$UPSTREAM_DIR" "$tmp/s.txt" "$tmp/ref.jsonl" --time 2>/dev/null
python3 tests/ref/ja_compare.py "$tmp/ref.jsonl" | tail -1
# bv2: start-up (one short sentence) and the same sentences once, each the median of 5 fresh
# processes (fresh: bv2 caches the second analysis of readings within a process, so repeating the
# sentences in one run would flatter it); per sentence = (run - start-up) / n
TIMEFORMAT='%3R %3U %3S'
t() { { time "$@" >/dev/null 2>&1; } 2>&1; }
med() { sort -n | sed -n 3p; }
for i in 1 2 3 4 5; do t "$BV2" g2p --language JP --text "はい。"; done >"$tmp/s.t"
for i in 1 2 3 4 5; do t "$BV2" g2p --language JP <"$tmp/s.txt"; done >"$tmp/r.t"
sw=$(cut -d' ' -f1 "$tmp/s.t" | med); sc=$(awk '{print $2 + $3}' "$tmp/s.t" | med)
rw=$(cut -d' ' -f1 "$tmp/r.t" | med); rc=$(awk '{print $2 + $3}' "$tmp/r.t" | med)
echo "$sw $sc $rw $rc $n" | awk '{ printf "bv2: start-up %.3f s wall; %d sentences, per sentence %.3f ms wall, %.3f ms CPU\n",
    $1, $5, 1e3 * ($3 - $1) / $5, 1e3 * ($4 - $2) / $5 }'
