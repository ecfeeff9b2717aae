#!/usr/bin/env bash
# run.sh - 500-step loss curves, bv2 against upstream PyTorch (issue 10, "Beyond one step" / "bf16_run"):
#
#   UPSTREAM_DIR=<Bert-VITS2 v2.3 tree> bench/curves/run.sh [--bf16] [--only STAGE]
#
#   1. venv   build/curves-venv: /usr/bin/python3 -m venv --system-site-packages (Debian's
#             python3-torch 1.13 + torchaudio) + bench/curves/requirements.txt (--no-deps, pinned)
#   2. corpus data/demo as `make demo` makes it (DEMO_MINUTES=0 scripts/demo.sh: flite voices,
#             22050 Hz wavs, filelists, zero BERT features, config.json, a random small WavLM)
#   3. config build/curves/config.json = data/demo/config.json with train.log_interval 1 (a
#             train.log line every step) and eval_interval 100000 (both sides evaluate at step 0 only)
#   4. init   build/curves/init/{G,D,DUR,WD}_0.pth: upstream's own initialisation (train_ms.run()'s
#             construction under torch.manual_seed(train.seed), bv2's small discriminator widths),
#             saved with upstream's utils.save_checkpoint; every run starts from these files
#   5. runs   in parallel, each nice 19 with OMP_NUM_THREADS=1 (a shared 2-core machine):
#               build/curves/runs/bv2-fp32     bv2 train from the initial checkpoints, STEPS steps
#               build/curves/runs/torch-s<S>   upstream train_ms.run() (bench/curves/upstream_run.py:
#                                              its dataset, bucket sampler, DataLoader, step body),
#                                              train.seed S, for each S in SEEDS
#             --bf16 runs only build/curves/runs/bv2-bf16 (the config with train.bf16_run true, same
#             initial checkpoints) and keeps the other runs. bench/curves/watch.sh samples each run's
#             CPU seconds and steps (OUT/runs/<name>.cpu) and pauses a bv2 run that is more than 10
#             steps ahead of the slowest PyTorch run (the comparison stops where the slowest stops)
#   6. check  bench/curves/check.py: per loss, the fraction of steps bv2's smoothed curve lies inside
#             the band of the PyTorch seeds
#   7. plot   bench/curves/plot.py -> docs/curves/<loss>.png (--bf16: docs/curves/bf16_<loss>.png)
#
# Environment: STEPS (500), SEEDS ("1 2 3"), UPSTREAM_DIR (required for init and the torch runs),
# OUT (build/curves), BV2 (build/bv2). --only STAGE runs one stage (venv corpus config init runs check
# plot). Each run writes its train.log as it goes; check/plot compare the steps every run reached, so
# runs stopped early (kill the PIDs in OUT/runs/*.pid) still give curves over their common length.
# Time on 2 shared cores (Intel Xeon, load ~6-10): see README "Loss curves".
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-500}
SEEDS=${SEEDS:-"1 2 3"}
OUT=${OUT:-build/curves}
BV2=${BV2:-build/bv2}
VENV=$OUT/../curves-venv
PY=$VENV/bin/python
BF16=0
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bf16) BF16=1 ;;
        --only) ONLY=${2:?--only needs a stage}; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
export OMP_WAIT_POLICY=PASSIVE
# OpenBLAS 0.3.21 takes newer Xeons for a Prescott (SSE3 kernels) under both sides: name the right core
# as `make bench` does (bench/lib.sh; your own OPENBLAS_CORETYPE wins).
# Runs started from different shells land in different scheduler autogroups, where `nice` does not
# reach across: `echo 19 > /proc/<pid>/autogroup` puts a group behind interactive work.
BUILD=${BUILD:-build}
. bench/lib.sh
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
need_upstream() {
    [ -n "${UPSTREAM_DIR:-}" ] && [ -f "$UPSTREAM_DIR/train_ms.py" ] || {
        echo "run.sh: set UPSTREAM_DIR to an upstream Bert-VITS2 v2.3 tree (train_ms.py)" >&2; exit 2; }
    export UPSTREAM_DIR
}

if want venv && ! "$PY" -c "import transformers, librosa, numba, scipy, matplotlib" 2>/dev/null; then
    /usr/bin/python3 -c "import torch, torchaudio" 2>/dev/null || {
        echo "run.sh: /usr/bin/python3 lacks torch/torchaudio: scripts/install-deps.sh bench" >&2; exit 2; }
    echo "run.sh: making $VENV (bench/curves/requirements.txt)"
    rm -rf "$VENV"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r bench/curves/requirements.txt
fi
if [ -x "$PY" ]; then BENCH_PYTHON=$PY bench_openblas_core; fi
if want corpus && [ ! -f data/demo/config.json ]; then
    DEMO_MINUTES=0 scripts/demo.sh
fi
[ -x "$BV2" ] || make -j2 "$BV2"
mkdir -p "$OUT/runs"
if want config; then
    "$PY" - "$OUT" <<'EOF'
import json, sys
c = json.load(open("data/demo/config.json"))
c["train"]["log_interval"] = 1
c["train"]["eval_interval"] = 100000
json.dump(c, open(sys.argv[1] + "/config.json", "w"), indent=1)
c["train"]["bf16_run"] = True
json.dump(c, open(sys.argv[1] + "/config-bf16.json", "w"), indent=1)
EOF
fi
if want init && [ ! -f "$OUT/init/WD_0.pth" ]; then
    need_upstream
    OMP_NUM_THREADS=1 "$PY" bench/curves/upstream_run.py init --config "$OUT/config.json" --out "$OUT/init"
fi
bv2_run() {  # name config
    local dir=$OUT/runs/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$OUT"/init/*_0.pth "$dir/"
    OMP_NUM_THREADS=1 nice -n 19 "$BV2" train -c "$2" -m "$dir" --max-steps "$STEPS" --progress none \
        > "$dir.out" 2>&1 &
    echo $! > "$dir.pid"
    echo "run.sh: $1 started (pid $!, log $dir/train.log)"
}
if want runs; then
    pids=()
    if [ "$BF16" = 1 ]; then
        bv2_run bv2-bf16 "$OUT/config-bf16.json"
        pids+=("$(cat "$OUT/runs/bv2-bf16.pid")")
    else
        need_upstream
        bv2_run bv2-fp32 "$OUT/config.json"
        pids+=("$(cat "$OUT/runs/bv2-fp32.pid")")
        for s in $SEEDS; do
            OMP_NUM_THREADS=1 nice -n 19 "$PY" bench/curves/upstream_run.py train --config "$OUT/config.json" \
                --init "$OUT/init" --run "$OUT/runs/torch-s$s" --seed "$s" --steps "$STEPS" \
                > "$OUT/runs/torch-s$s.out" 2>&1 &
            echo $! > "$OUT/runs/torch-s$s.pid"
            pids+=("$!")
            echo "run.sh: torch-s$s started (pid $!, log $OUT/runs/torch-s$s/train.log)"
        done
    fi
    bench/curves/watch.sh "$OUT/runs" > "$OUT/watch.log" 2>&1 &
    watcher=$!
    st=0
    for p in "${pids[@]}"; do wait "$p" || st=1; done
    kill "$watcher" 2>/dev/null || true
    [ "$st" = 0 ] || echo "run.sh: a run failed or was stopped (see $OUT/runs/*.out); checking what they logged" >&2
fi
if want check; then
    "$PY" bench/curves/check.py --runs "$OUT/runs"
fi
if want plot; then
    if [ "$BF16" = 1 ]; then "$PY" bench/curves/plot.py --runs "$OUT/runs" --bf16
    else "$PY" bench/curves/plot.py --runs "$OUT/runs"; fi
fi
