#!/bin/sh
# zh_g2p.sh - speed of the Chinese front-end: `bv2 g2p --language ZH --norm` against upstream's Python
# (text/chinese.py text_normalize + g2p, bench/zh_g2p_upstream.py) on the sentences of golden text_zh, same
# machine, one thread each. Reports start-up and per-sentence time after start-up. Not part of CI.
#
#   bench/zh_g2p.sh            PYTHON (default python3) must have jieba==0.42.1 pypinyin==0.53.0 cn2an==0.5.22;
#                              UPSTREAM_DIR (default /work/upstream) holds upstream v2.3's text/ folder;
#                              GOLDEN (default ../shared/golden); REPEAT passes (default 3), best kept.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
GOLDEN=${GOLDEN:-../shared/golden}
PYTHON=${PYTHON:-python3}
UPSTREAM_DIR=${UPSTREAM_DIR:-/work/upstream}
REPEAT=${REPEAT:-3}
cases="$GOLDEN/text_zh/cases.jsonl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -c 'import json,sys; [print(json.loads(l)["text"]) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]' \
    "$cases" > "$tmp/one.txt"
n=$(wc -l < "$tmp/one.txt")
: > "$tmp/many.txt"
i=0
while [ $i -lt 20 ]; do cat "$tmp/one.txt" >> "$tmp/many.txt"; i=$((i + 1)); done
now() { date +%s.%N; }
"$BUILD/bv2" g2p --language ZH --text "你好" > /dev/null # builds data/zh/cache.bin if absent
best_start=""; best_run=""
r=0
while [ $r -lt "$REPEAT" ]; do
    t0=$(now); "$BUILD/bv2" g2p --language ZH --text "你" > /dev/null; t1=$(now)
    "$BUILD/bv2" g2p --language ZH --norm < "$tmp/many.txt" > "$tmp/out.txt"; t2=$(now)
    s=$(echo "$t1 - $t0" | bc -l); run=$(echo "$t2 - $t1 - $s" | bc -l)
    if [ -z "$best_start" ] || [ "$(echo "$s < $best_start" | bc -l)" = 1 ]; then best_start=$s; fi
    if [ -z "$best_run" ] || [ "$(echo "$run < $best_run" | bc -l)" = 1 ]; then best_run=$run; fi
    r=$((r + 1))
done
ours_ms=$(echo "1000 * $best_run / (20 * $n)" | bc -l)
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); load average $(cut -d' ' -f1 /proc/loadavg)"
printf "bv2 (C):          startup %.3f s, %.4f ms per sentence (%d sentences x 20)\n" "$best_start" "$ours_ms" "$n"
up=$(OMP_NUM_THREADS=1 "$PYTHON" bench/zh_g2p_upstream.py "$UPSTREAM_DIR" "$cases" "$REPEAT")
echo "upstream (Python): $up"
up_ms=$(echo "$up" | sed -n 's/.*per_sentence_ms=\([0-9.]*\).*/\1/p')
printf "speed-up per sentence after start-up: %.1fx\n" "$(echo "$up_ms / $ours_ms" | bc -l)"
