#!/bin/sh
# step.sh - one full training step at upstream's default config (batch 2, ~5 s utterances at 44.1 kHz,
# random weights, random wavlm-base-plus-shaped WavLM): ours (bench/bench_train_step.c) and upstream's
# PyTorch step (bench/train_step_torch.py) in the same invocation, then the time ratio torch / ours
# (> 1: we are faster) and both peak memories. Part of `make bench` (bench/run.sh); not part of CI.
#
#   bench/step.sh [--steps N] [--tx A,B] [--ty A,B]     (both sides get the same arguments)
#
#   BUILD=<dir>         build folder (default build)
#   BENCH_THREADS=n     threads for both sides (default 2)
#   UPSTREAM_DIR=<dir>  upstream Bert-VITS2 v2.3 source for the PyTorch side and its configs/config.json
#                       (default $BUILD/upstream; absent: stops and says how to get it - bench/lib.sh)
#   OMP_WAIT_POLICY    exported to both sides, default PASSIVE: on a busy machine (load average above the
#                       core count) threads that spin at OpenMP barriers steal the cores their partners
#                       need and both sides run 4-7x slower, each differently; ACTIVE suits an idle machine
#   BENCH_PYTHON=<py>   python for the PyTorch side (default $BUILD/bench-venv/bin/python, made by
#                       bench/setup-venv.sh on first use)
#
# The two sides run one after the other, so a busy machine can slow one more than the other: the load
# average is printed before each, and each side also reports its fastest step.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_WAIT_POLICY
. bench/lib.sh
bench_need_upstream
bench_python
config_arg="--config $UPSTREAM_DIR/configs/config.json"

# Our side: `bv2-bench --train-step` once bench_ops.c dispatches to it, else a stand-alone binary linked
# from the same objects with the Makefile's own flags (an extra rule read from stdin; Makefile untouched).
if grep -q -e '--train-step' bench/bench_ops.c; then
    make -s --no-print-directory BUILD="$BUILD" "$BUILD/bv2-bench" >&2
    ours="$BUILD/bv2-bench --train-step"
else
    make -s --no-print-directory -f Makefile -f - BUILD="$BUILD" "$BUILD/bv2-bench-step" >&2 <<'EOF'
$(BUILD)/bv2-bench-step: bench/bench_train_step.c $(LIB_OBJ)
	$(CC) $(filter-out -MMD -MP,$(CFLAGS)) -DBV_BENCH_TRAIN_STEP_MAIN $(LDFLAGS) -o $@ $^ $(LDLIBS)
EOF
    ours="$BUILD/bv2-bench-step"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
echo "== train step, bertvits2.c ($THREADS threads, OMP_WAIT_POLICY=$OMP_WAIT_POLICY; load average $(load))"
# shellcheck disable=SC2086 # $ours and $config_arg are word lists
OMP_NUM_THREADS=$THREADS $ours $config_arg "$@" | tee "$tmp/ours.txt" | grep -v '^RESULT '

echo
echo "== train step, upstream PyTorch ($BENCH_PYTHON, $THREADS threads, OMP_WAIT_POLICY=$OMP_WAIT_POLICY;" \
     "load average $(load))"
if ! UPSTREAM_DIR=$UPSTREAM_DIR BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS \
    "$BENCH_PYTHON" bench/train_step_torch.py "$@" > "$tmp/torch.txt" 2>&1; then
    cat "$tmp/torch.txt"
    echo "(PyTorch side failed: ratio skipped)"
    exit 0
fi
grep -v '^RESULT ' "$tmp/torch.txt"

echo
echo "== train step: torch / ours (> 1: bertvits2.c is faster)"
grep -h '^RESULT ' "$tmp/ours.txt" "$tmp/torch.txt" | awk '
    { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$2, kv[1]] = kv[2] } }
    END {
        printf "  step time   median %.2fx (torch %.0f ms, ours %.0f ms)   fastest %.2fx (%.0f / %.0f ms)\n",
               v["torch", "step_ms"] / v["ours", "step_ms"], v["torch", "step_ms"], v["ours", "step_ms"],
               v["torch", "min_ms"] / v["ours", "min_ms"], v["torch", "min_ms"], v["ours", "min_ms"]
        printf "  CPU time    median %.2fx (torch %.0f ms, ours %.0f ms; all threads, spin-waits included)\n",
               v["torch", "cpu_ms"] / v["ours", "cpu_ms"], v["torch", "cpu_ms"], v["ours", "cpu_ms"]
        printf "  peak memory torch max RSS %.0f MiB, ours max RSS %.0f MiB (arena peak %.0f MiB): " \
               "torch / ours %.2fx\n",
               v["torch", "max_rss_mib"], v["ours", "max_rss_mib"], v["ours", "arena_peak_mib"],
               v["torch", "max_rss_mib"] / v["ours", "max_rss_mib"]
    }'
