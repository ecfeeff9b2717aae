#!/bin/sh
# infer.sh - inference real-time factor, bertvits2.c vs upstream's PyTorch net_g.infer, on the same
# machine in the same run: ~5 s of speech at upstream's default dimensions with random weights (the
# same weights and inputs on both sides: bench_infer.c writes them, bench/infer_torch.py reads them).
# Both sides get BENCH_THREADS threads (default 2). Prints the ratio of the median times
# (> 1: bertvits2.c is faster). Not part of CI. On a busy machine OpenMP's spin-waiting makes our
# many short parallel regions stall (run with OMP_WAIT_POLICY=passive there, or BENCH_THREADS=1).
#
#   bench/infer.sh [--reps N] [--phones N] [--seconds S]
#   BUILD=<dir> (default build)   UPSTREAM_DIR, BENCH_PYTHON: bench/lib.sh (upstream v2.3's source,
#   default $BUILD/upstream; the PyTorch side's Python, default $BUILD/bench-venv made on first use)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
. bench/lib.sh
bench_need_upstream
bench_python

# The library objects, then bench_infer.c as its own program (bv2-bench's main may not dispatch
# --infer yet); compiler and linker flags come from the Makefile itself. Sources the Makefile does not
# compile yet (src/infer before it joins LIB_SRC) are compiled here the same way.
make --no-print-directory BUILD="$BUILD" "$BUILD/bv2-bench" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== bertvits2.c ($THREADS threads; OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}; load average $(cut -d' ' -f1 /proc/loadavg))"
OMP_NUM_THREADS=$THREADS "$BUILD/bv2-bench" --infer --dir "$tmp" "$@" | tee "$tmp/ours.txt" | grep -v '^INFER '
echo
echo "== upstream PyTorch ($THREADS threads; $UPSTREAM_DIR; $BENCH_PYTHON)"
reps=5
prev=
for a in "$@"; do [ "$prev" = "--reps" ] && reps=$a; prev=$a; done
BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS "$BENCH_PYTHON" bench/infer_torch.py "$tmp" --reps "$reps" |
    tee "$tmp/torch.txt" | grep -v '^INFER '

if ! grep -q '^INFER torch' "$tmp/torch.txt"; then
    echo "(no PyTorch timing: ratio skipped)"
    exit 0
fi
echo
awk '
    $1 == "INFER" { med[$2] = $3; mn[$2] = $4; sec[$2] = $5; fr[$2] = $6 }
    END {
        printf "== real-time factor (time / audio): bertvits2.c %.4f, PyTorch %.4f (medians; %s vs %s frames)\n",
               med["ours"] / 1e3 / sec["ours"], med["torch"] / 1e3 / sec["torch"], fr["ours"], fr["torch"]
        printf "== PyTorch / bertvits2.c time per second of audio: %.2fx median, %.2fx fastest runs (> 1: bertvits2.c is faster)\n",
               (med["torch"] / sec["torch"]) / (med["ours"] / sec["ours"]), (mn["torch"] / sec["torch"]) / (mn["ours"] / sec["ours"])
    }
' "$tmp/ours.txt" "$tmp/torch.txt"
