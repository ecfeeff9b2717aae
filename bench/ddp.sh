#!/bin/sh
# bench/ddp.sh - data-parallel scaling of `bv2 train` on one machine (README "Data-parallel training").
#   bench/ddp.sh CONFIG [STEPS] [WIDTHS]
# Trains STEPS (default 10) steps from scratch three ways - 1 rank x all cores' threads, 1 rank x 1
# thread, N ranks x 1 thread (N = cores) - and prints each run's steps/s, samples/s and, for the MPI
# run, the gradient all-reduce bytes per step and its share of step time (from train.log). WIDTHS is
# the discriminator width (upstream or small; default upstream). Not part of `make test`.
set -eu
export OMP_WAIT_POLICY=PASSIVE   # spin-waiting threads stall every step on a busy machine
CFG=$1; STEPS=${2:-10}; WIDTHS=${3:-upstream}
BV2=${BV2:-build/bv2}
N=$(nproc)
TMP=$(mktemp -d /tmp/bv_ddp_bench_XXXXXX)
trap 'rm -rf "$TMP"' EXIT
lscpu | sed -n 's/^Model name: *//p' | sed 's/^/cpu: /'
echo "cores: $N; load average: $(cut -d' ' -f1-3 /proc/loadavg); config: $CFG; $STEPS steps; discriminator widths: $WIDTHS"
run() { # name, then the command's words
    name=$1; shift
    "$@" train -c "$CFG" -m "$TMP/$name" --max-steps "$STEPS" --disc-widths "$WIDTHS" --progress none \
        --keep-ckpts 1 >"$TMP/$name.out" 2>&1 || { echo "$name failed:"; tail -5 "$TMP/$name.out"; exit 1; }
    printf '%-28s ' "$name"
    grep -h "steps in" "$TMP/$name/train.log" | tail -1 | sed 's/.*INFO\t//'
    grep -h "data parallel: .* ranks, .*samples/s" "$TMP/$name/train.log" | tail -1 | sed 's/.*INFO\t/    /' || true
}
OMP_NUM_THREADS=$N run "1rank_x_${N}threads" "$BV2"
OMP_NUM_THREADS=1 run "1rank_x_1thread" "$BV2"
run "${N}ranks_x_1thread" mpirun --allow-run-as-root --oversubscribe -np "$N" -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY "$BV2"
