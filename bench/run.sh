#!/bin/sh
# run.sh - `make bench`: build build/bv2-bench, time our ops, time the same shapes in PyTorch
# (bench/ops_torch.py with Debian's /usr/bin/python3), and print the ratio torch/ours per op
# (> 1: we are faster). Both sides get BENCH_THREADS threads (default 2). Not part of CI.
#
#   bench/run.sh [name-substring]     BUILD=<dir> picks the build folder (default build)
#
# Without an argument it also runs the whole-model benchmarks (several minutes each, same run, same
# machine): bench/step.sh (one full train_ms step at upstream's default dims, ours vs upstream's
# PyTorch; `bench/run.sh train-step` alone) and bench/infer.sh (real-time factor of ~5 s of speech;
# `bench/run.sh infer` alone). Both use UPSTREAM_DIR (default /work/upstream) for upstream's code and
# run with OMP_WAIT_POLICY=PASSIVE on both sides unless it is set (spin-waiting collapses under load).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
# Both sides: libgomp's default spin-waiting collapses on a machine with other load (measured 5x).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
make --no-print-directory BUILD="$BUILD" "$BUILD/bv2-bench"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== bertvits2.c ($THREADS threads; load average $(cut -d' ' -f1 /proc/loadavg))"
OMP_NUM_THREADS=$THREADS "$BUILD/bv2-bench" "$@" | tee "$tmp/ours.txt" | grep -v '^ROW '

"$BUILD/bv2-bench" --specs > "$tmp/specs.txt"
if [ $# -gt 0 ]; then
    grep -e "name=sgemm" -e "name=[^ ]*$1" "$tmp/specs.txt" > "$tmp/specs.sel" || true
    mv "$tmp/specs.sel" "$tmp/specs.txt"
fi
echo
echo "== PyTorch ($THREADS threads)"
BENCH_THREADS=$THREADS /usr/bin/python3 bench/ops_torch.py "$tmp/specs.txt" | tee "$tmp/torch.txt" | grep -v '^ROW '

if ! grep -q '^ROW ' "$tmp/torch.txt"; then
    echo "(no PyTorch timings: ratios skipped)"
    exit 0
fi
echo
echo "== time ratio torch / ours (> 1: bertvits2.c is faster); medians, and fastest runs (steadier on a busy machine)"
awk '
    FNR == NR { if ($1 == "ROW") for (i = 3; i <= 6; i++) us[$2, i] = $i; next }
    $1 == "ROW" && (($2, 3) in us) {
        printf "%-34s fwd %6.2fx  fwd+bwd %6.2fx   | min: fwd %6.2fx  fwd+bwd %6.2fx\n", $2,
               $3 / us[$2, 3], $4 / us[$2, 4], $5 / us[$2, 5], $6 / us[$2, 6]
        for (i = 3; i <= 6; i++) lg[i] += log($i / us[$2, i])
        n++
    }
    END {
        if (n) printf "%-34s fwd %6.2fx  fwd+bwd %6.2fx   | min: fwd %6.2fx  fwd+bwd %6.2fx\n", "geometric mean",
                      exp(lg[3] / n), exp(lg[4] / n), exp(lg[5] / n), exp(lg[6] / n)
    }
' "$tmp/ours.txt" "$tmp/torch.txt"
if [ $# -eq 0 ] || [ "$1" = train-step ]; then echo; BUILD="$BUILD" BENCH_THREADS="$THREADS" bench/step.sh; fi
if [ $# -eq 0 ] || [ "$1" = infer ]; then echo; BUILD="$BUILD" BENCH_THREADS="$THREADS" bench/infer.sh; fi
if [ $# -eq 0 ] || [ "$1" = bert ]; then echo; BUILD="$BUILD" BENCH_THREADS="$THREADS" bench/bert.sh; fi
