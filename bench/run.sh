#!/bin/sh
# run.sh - `make bench`: everything beside upstream's PyTorch code, same machine, same run. Not part of CI.
#
#   bench/run.sh                      all parts of BENCH_PARTS (default "ops bert model"), in that order:
#     ops    our heaviest ops and the same shapes in PyTorch (bench/ops_torch.py): time ratio per op
#     bert   bv2 bert-gen beside upstream's bert_gen.py on real-size random BERTs (bench/bert.sh; needs
#            the golden set's tokenizers in GOLDEN, default ../shared/golden; skipped without them)
#     model  the whole model (bench/compare.sh): train step and its batch-size curve, synthesis, PyTorch's
#            CPU bf16 autocast, ours in bf16 when bv2 has it; ends with the one summary line
#              bench: step_time_ratio=R rss_ratio=R infer_time_ratio=R bf16_step_time_ratio=R bf16_infer_time_ratio=R
#   bench/run.sh NAME-SUBSTRING       only the ops whose name contains it
#   bench/run.sh train-step|infer|bert|model   one part alone (train-step, infer: bench/step.sh, bench/infer.sh)
#
# Before anything long it checks for upstream v2.3's source (UPSTREAM_DIR, default $BUILD/upstream; it
# stops and says how to get it when absent) and makes the PyTorch side's Python, $BUILD/bench-venv
# (bench/setup-venv.sh: Debian's python3-torch on the OpenMP OpenBLAS, pinned PyPI packages). See
# bench/lib.sh and bench/compare.sh for the environment variables (BENCH_THREADS, BENCH_STEPS, ...).
# Both sides get BENCH_THREADS threads (default 2). OpenMP wait policy: the whole-model part tries each of
# BENCH_WAIT_POLICIES on both sides and keeps each side's fastest (bench/compare.sh); the other parts run
# with OMP_WAIT_POLICY=PASSIVE unless it is set.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
PARTS=${BENCH_PARTS:-ops bert model}
GOLDEN=${GOLDEN:-../shared/golden}
# ops, bert, train-step, infer: both sides PASSIVE unless set (libgomp's default spin-waiting collapses on a
# machine with other load, measured 5x); model: compare.sh's own policy sweep (USER_POLICY: yours, if set)
USER_POLICY=${OMP_WAIT_POLICY:-}
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
model() { if [ -n "$USER_POLICY" ]; then exec env BUILD="$BUILD" bench/compare.sh
          else exec env -u OMP_WAIT_POLICY BUILD="$BUILD" bench/compare.sh; fi; }
. bench/lib.sh
case "${1:-all}" in all | train-step | infer | bert | model) bench_need_upstream ;; esac
bench_python
case "${1:-}" in
    train-step) exec env BUILD="$BUILD" BENCH_THREADS="$THREADS" bench/step.sh ;;
    infer) exec env BUILD="$BUILD" BENCH_THREADS="$THREADS" bench/infer.sh ;;
    bert) exec env BUILD="$BUILD" BENCH_THREADS="$THREADS" PYTHON="$BENCH_PYTHON" bench/bert.sh ;;
    model) model ;;
esac
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
# the parts after ops; model last, so that its summary line is the last line of all
rest() {
    if has bert; then
        echo
        if [ -f "$GOLDEN/bert/bert/deberta-v3-large/spm.model" ]; then
            BUILD="$BUILD" BENCH_THREADS="$THREADS" PYTHON="$BENCH_PYTHON" GOLDEN="$GOLDEN" bench/bert.sh
        else echo "(bert part skipped: no golden BERT tokenizers in $GOLDEN/bert/bert)"; fi
    fi
    if has model; then echo; model; fi
    exit 0
}
make --no-print-directory BUILD="$BUILD" "$BUILD/bv2-bench"
# what this CPU's cores compute per second in fp32, bf16 and fp16 (and whether it has AMX): the reason
# the bf16 ratios below come out as they do on this machine
[ $# -eq 0 ] && "$BUILD/bv2-bench" --isa && echo
if [ $# -eq 0 ] && ! has ops; then rest; fi
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
echo "== PyTorch ($THREADS threads; $BENCH_PYTHON)"
BENCH_THREADS=$THREADS "$BENCH_PYTHON" bench/ops_torch.py "$tmp/specs.txt" | tee "$tmp/torch.txt" | grep -v '^ROW '

if ! grep -q '^ROW ' "$tmp/torch.txt"; then
    echo "(no PyTorch timings: ratios skipped)"
else
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
fi
[ $# -eq 0 ] || exit 0
rm -rf "$tmp"
rest
