#!/bin/sh
# bert.sh - `bv2 bert-gen` against upstream's bert_gen.py (process_line with transformers 4.30.2 on
# Debian's torch), on random models of the real sizes (bench/bert_torch.py make: 24 x 1024 BERT with
# 21128 tokens, 24 x 1024 DeBERTa-v3 with 128100 tokens) over the golden set's 35 ZH + 40 EN lines.
# Both sides get BENCH_THREADS threads (default 2): upstream one process with torch.set_num_threads,
# bv2 --threads (lines in parallel, one BLAS thread each). Prints wall time per line and peak RSS of
# each (/usr/bin/time), and checks that both wrote the same features. Not part of CI (minutes; about
# 4 GB of disk for the models in a temporary folder).
#
#   bench/bert.sh          PYTHON=<python with torch + transformers==4.30.2> (default /usr/bin/python3)
#                          UPSTREAM_DIR=<Bert-VITS2 v2.3 checkout> (default /work/upstream)
#                          GOLDEN=<golden folder> (default ../shared/golden)   BUILD=<dir> (default build)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
PY=${PYTHON:-/usr/bin/python3}
UP=${UPSTREAM_DIR:-/work/upstream}
GOLDEN=${GOLDEN:-../shared/golden}
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if ! "$PY" -c "import torch, transformers" 2>/dev/null; then
    echo "bench/bert.sh: skipped: $PY has no torch + transformers (set PYTHON=, see the top of this file)"
    exit 0
fi
make --no-print-directory BUILD="$BUILD" "$BUILD/bv2" >/dev/null
bv2=$(realpath "$BUILD/bv2")
lists=tests/data/bert_golden_filelists
[ -s "$GOLDEN/bert/filelists/train.list" ] && lists="$GOLDEN/bert/filelists"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
set_dir="$tmp/set"
echo "== making real-size random models in $set_dir"
"$PY" bench/bert_torch.py make "$set_dir" "$GOLDEN/bert/bert" "$lists"
du -sh "$set_dir/bert"/* | sed 's/^/   /'

echo "== upstream bert_gen.py process_line ($THREADS threads; load average $(cut -d' ' -f1 /proc/loadavg))"
OMP_NUM_THREADS=$THREADS /usr/bin/time -f "BERT torch peak_rss_kb=%M wall_s=%e" \
    "$PY" bench/bert_torch.py run "$set_dir" "$(realpath "$UP")" "$THREADS" 2>&1 | grep '^BERT' | tee "$tmp/torch.txt"
mkdir "$tmp/torch_out"
mv "$set_dir"/wavs/*.bert.pt "$tmp/torch_out/"

echo "== bv2 bert-gen ($THREADS threads; load average $(cut -d' ' -f1 /proc/loadavg))"
(cd "$set_dir" && OMP_NUM_THREADS=1 /usr/bin/time -f "BERT ours peak_rss_kb=%M wall_s=%e" \
    "$bv2" bert-gen -c config.json --bert-dir bert --threads "$THREADS" 2>&1 | grep -e '^BERT' -e 'lines:') |
    tee "$tmp/ours.txt"
"$PY" bench/bert_torch.py compare "$set_dir/wavs" "$tmp/torch_out"

n=$(grep -o 'lines=[0-9]*' "$tmp/torch.txt" | cut -d= -f2)
awk -v n="$n" '
    /BERT torch peak_rss_kb/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] } }
    /BERT ours peak_rss_kb/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); o[kv[1]] = kv[2] } }
    END {
        printf "\n%-28s %12s %12s %8s\n", "", "bv2", "upstream", "ratio"
        printf "%-28s %12.3f %12.3f %8.2fx\n", "wall time per line (s)", o["wall_s"] / n, t["wall_s"] / n,
               (o["wall_s"] / n) / (t["wall_s"] / n)
        printf "%-28s %12.0f %12.0f %8.2fx\n", "peak RSS (MiB)", o["peak_rss_kb"] / 1024, t["peak_rss_kb"] / 1024,
               o["peak_rss_kb"] / t["peak_rss_kb"]
        printf "(%d lines; times include loading the models; ratio < 1: bv2 is faster / smaller)\n", n
    }' "$tmp/torch.txt" "$tmp/ours.txt"
