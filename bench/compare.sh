#!/bin/sh
# compare.sh - the whole-model part of `make bench` (bench/run.sh runs it last): bertvits2.c beside
# upstream v2.3's PyTorch code, same machine, same run, one after the other, same threads.
#
#   1. train step at upstream's default configs/config.json (random weights, random wavlm-base-plus-
#      shaped WavLM, ~5 s utterances) for each batch size of BENCH_BATCHES, always including batch 2
#      (the headline: upstream's default shapes): time per step (median of BENCH_STEPS steps after one
#      warm-up) and the process's peak RSS, ours (bv2-bench --train-step) and PyTorch's
#      (bench/train_step_torch.py);
#   2. synthesis of ~5 s of speech (bv2-bench --infer, bench/infer_torch.py): median of BENCH_REPS runs;
#   3. PyTorch's own CPU bf16 autocast (torch.autocast("cpu", dtype=torch.bfloat16)) on the same batch-2
#      step (upstream's bf16_run regions) and the same synthesis;
#   4. ours in bf16, when bv2 has it: the step with train.bf16_run: true and `bv2 infer --bf16` are
#      tried each run; a refusal is printed as the reason, and the ratio as n/a.
# and ends with exactly one line (ratios ours / PyTorch fp32, of the medians; < 1: bertvits2.c wins):
#   bench: step_time_ratio=R rss_ratio=R infer_time_ratio=R bf16_step_time_ratio=R bf16_infer_time_ratio=R
# Every run's full output is kept in $BUILD/bench-out/ (the per-phase timelines are there).
#
# Environment (defaults in brackets):
#   BENCH_THREADS [2]  threads of both sides      BENCH_STEPS [3]  timed steps per train-step run
#   BENCH_REPS [5]     timed synthesis runs       BENCH_BATCHES ["1 2 4 8"]  batch curve (1..8; commas ok)
#   UPSTREAM_DIR [$BUILD/upstream], BENCH_PYTHON [$BUILD/bench-venv/bin/python]: bench/lib.sh
#   BENCH_WAIT_POLICIES ["default PASSIVE ACTIVE"]  OpenMP wait policies tried for the headline (batch 2
#              fp32 and bf16 steps, synthesis): every run of each side under each policy ("default" = unset:
#              libgomp spins a while, then sleeps), and each side's fastest median is its number (printed per
#              policy). Why: on a quiet VM PASSIVE wakes a sleeping thread for every parallel region (measured
#              on the AMX Xeon, quiet, batch 2: bv2 7322 ms PASSIVE / 5800 default / 5438 ACTIVE, PyTorch
#              10486 / 10675 / 9777), while with other load spinning collapses (PASSIVE wins by up to 5x).
#              The batch curve uses the first policy. OMP_WAIT_POLICY, when set, overrides: that one only.
#   BENCH_ROUNDS [1]  how many times the policy sweep (batch-2 steps, synthesis) runs, one round after
#              the other; each side's number is then its fastest over every round and policy. Why: this
#              kind of VM drifts by 25-40% within minutes on the same binary, so one run of each side
#              can fall into different phases; more rounds give both sides the same chances.
# Exit status 0 when every fp32 number was measured, 1 otherwise (the line still comes last, n/a there).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${BENCH_THREADS:-2}
STEPS=${BENCH_STEPS:-3}
REPS=${BENCH_REPS:-5}
POLICIES=${OMP_WAIT_POLICY:-${BENCH_WAIT_POLICIES:-default PASSIVE ACTIVE}}
unset OMP_WAIT_POLICY
for p in $POLICIES; do
    case $p in default | PASSIVE | ACTIVE | passive | active) ;;
    *) echo "compare.sh: wait policy '$p': default, PASSIVE or ACTIVE" >&2; exit 2 ;; esac
done
FIRST_POLICY=${POLICIES%% *}
ROUNDS=${BENCH_ROUNDS:-1}
case $ROUNDS in [1-9]) ;; *) echo "compare.sh: BENCH_ROUNDS: 1..9, got '$ROUNDS'" >&2; exit 2 ;; esac
# the runs' labels: every policy in round 1 (P), then again in round 2 (P.r2), ...
LABELS=""
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for p in $POLICIES; do if [ "$r" = 1 ]; then LABELS="$LABELS $p"; else LABELS="$LABELS $p.r$r"; fi; done
    r=$((r + 1))
done
policy_of() { echo "${1%%.r*}"; }
# with_policy P CMD...: CMD with OMP_WAIT_POLICY=P (unset for "default")
with_policy() {
    p=$1; shift
    if [ "$p" = default ]; then (unset OMP_WAIT_POLICY; "$@"); else (OMP_WAIT_POLICY=$p; export OMP_WAIT_POLICY; "$@"); fi
}
. bench/lib.sh
bench_need_upstream
bench_python
BATCHES=$(printf '%s\n' ${BENCH_BATCHES:-1 2 4 8} 2 | tr ',' '\n' | grep . | sort -n -u | tr '\n' ' ')
for b in $BATCHES; do
    case $b in [1-8]) ;; *) echo "compare.sh: BENCH_BATCHES: batch sizes are 1..8, got '$b'" >&2; exit 2 ;; esac
done
make -s --no-print-directory BUILD="$BUILD" "$BUILD/bv2-bench" "$BUILD/bv2" >&2
OUT=$BUILD/bench-out
rm -rf "$OUT"
mkdir -p "$OUT"
CONFIG=$UPSTREAM_DIR/configs/config.json
load() { cut -d' ' -f1 /proc/loadavg; }
bf16_flags=$(grep -o -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/ $//')

echo "== whole model: bertvits2.c beside upstream v2.3 in PyTorch ($UPSTREAM_DIR)"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); bf16 in hardware: ${bf16_flags:-none}"
echo "$THREADS threads each, OpenMP wait policies: $POLICIES x $ROUNDS round(s) (each side's fastest); $STEPS timed steps" \
     "per run, $REPS synthesis runs; PyTorch: $BENCH_PYTHON"
echo "full outputs: $OUT/"

# field FILE KEY: KEY=value of the RESULT line in FILE (empty when absent)
field() { sed -n "s/^RESULT .* $2=\([^ ]*\).*/\1/p" "$1" | tail -n 1; }
# fastest NAME KIND P...: copy $OUT/NAME_P.txt with the smallest value to $OUT/NAME.txt (or the first one
# when none has a value) and print the policy chosen. KIND "step": its RESULT step_ms; else the synthesis
# side whose ms per second of audio counts (infer_ms_per_s FILE KIND)
fastest() {
    name=$1; kind=$2; shift 2
    best=""; bv=""
    for p in "$@"; do
        if [ "$kind" = step ]; then v=$(field "$OUT/${name}_$p.txt" step_ms)
        else v=$(infer_ms_per_s "$OUT/${name}_$p.txt" "$kind"); fi
        [ -n "$v" ] || continue
        if [ -z "$bv" ] || awk -v a="$v" -v b="$bv" 'BEGIN { exit !(a < b) }'; then bv=$v; best=$p; fi
    done
    [ -n "$best" ] || best=$1
    cp "$OUT/${name}_$best.txt" "$OUT/$name.txt"
    echo "$best"
}
# batch B's text lengths and frames: upstream's default shapes (147 / 431, 125 / 388) repeated
shapes() {
    TX=""; TY=""; i=0
    while [ "$i" -lt "$1" ]; do
        if [ $((i % 2)) -eq 0 ]; then TX="$TX,147"; TY="$TY,431"; else TX="$TX,125"; TY="$TY,388"; fi
        i=$((i + 1))
    done
    TX=${TX#,}; TY=${TY#,}
}
# step NAME SIDE B [extra args]: one train-step run into $OUT/NAME.txt; prints a progress line
step() {
    name=$1; side=$2; b=$3; shift 3
    shapes "$b"
    la=$(load)
    if [ "$side" = ours ]; then
        OMP_NUM_THREADS=$THREADS "$BUILD/bv2-bench" --train-step --steps "$STEPS" --tx "$TX" --ty "$TY" \
            --config "$CONFIG" "$@" > "$OUT/$name.txt" 2>&1 || true
    else
        BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS "$BENCH_PYTHON" bench/train_step_torch.py \
            --steps "$STEPS" --tx "$TX" --ty "$TY" --config "$CONFIG" "$@" > "$OUT/$name.txt" 2>&1 || true
    fi
    if [ -n "$(field "$OUT/$name.txt" step_ms)" ]; then
        printf '  %-34s batch %d: %9.0f ms per step, peak RSS %6.0f MiB (load average %s)\n' "$name" "$b" \
            "$(field "$OUT/$name.txt" step_ms)" "$(field "$OUT/$name.txt" max_rss_mib)" "$la"
    else
        what=failed
        case $name in *ours_bf16*) what=n/a ;; esac
        printf '  %-34s batch %d: %s: %s\n' "$name" "$b" "$what" \
            "$(grep -v '^ ' "$OUT/$name.txt" | grep -i -m 1 -e error -e killed || tail -n 1 "$OUT/$name.txt")"
    fi
}

echo
echo "-- train step runs (upstream's configs/config.json; ~5 s utterances; random weights)"
for b in $BATCHES; do
    [ "$b" = 2 ] && continue
    with_policy "$FIRST_POLICY" step "step_ours_b$b" ours "$b"
    with_policy "$FIRST_POLICY" step "step_torch_b$b" torch "$b"
done
# ours in bf16: the same config with train.bf16_run: true
"$BENCH_PYTHON" -c 'import json, sys
c = json.load(open(sys.argv[1])); c["train"]["bf16_run"] = True; json.dump(c, open(sys.argv[2], "w"), indent=2)' \
    "$CONFIG" "$OUT/config_bf16.json"
CONFIG_FP32=$CONFIG
for l in $LABELS; do
    p=$(policy_of "$l")
    echo "   OpenMP wait policy $p${l#"$p"}:"
    with_policy "$p" step "step_ours_b2_$l" ours 2
    with_policy "$p" step "step_torch_b2_$l" torch 2
    with_policy "$p" step "step_torch_bf16_b2_$l" torch 2 --bf16
    CONFIG=$OUT/config_bf16.json
    with_policy "$p" step "step_ours_bf16_b2_$l" ours 2
    CONFIG=$CONFIG_FP32
done
echo "   fastest policy per side (batch 2): ours $(fastest step_ours_b2 step $LABELS)," \
     "PyTorch $(fastest step_torch_b2 step $LABELS), ours bf16 $(fastest step_ours_bf16_b2 step $LABELS)," \
     "PyTorch bf16 $(fastest step_torch_bf16_b2 step $LABELS)"

echo
echo "-- synthesis of ~5 s of speech (upstream's default dimensions, random weights, same inputs both sides)"
mkdir -p "$OUT/infer"
# infer_runs P L: the four synthesis runs under wait policy P into $OUT/infer_{ours,torch,torch_bf16,ours_bf16}_L.txt
infer_runs() {
    p=$2
    OMP_NUM_THREADS=$THREADS "$BUILD/bv2-bench" --infer --dir "$OUT/infer" --reps "$REPS" > "$OUT/infer_ours_$p.txt" 2>&1 || true
    for mode in "" --bf16; do
        BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS "$BENCH_PYTHON" bench/infer_torch.py "$OUT/infer" --reps "$REPS" \
            $mode > "$OUT/infer_torch${mode:+_bf16}_$p.txt" 2>&1 || true
    done
    # ours in bf16: `bv2 infer --bf16` on the same model and phones, REPS + 1 utterances in one process
    # (the first is the warm-up); its "in T s" per utterance over the audio's seconds
    [ -s "$OUT/infer/input.txt" ] || return 0
    ls_=$(sed -n 's/^length_scale //p' "$OUT/infer/input.txt")
    spk=$("$BENCH_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))["data"]["spk2id"]; print(min(d, key=d.get))' "$OUT/infer/config.json")
    i=0
    : > "$OUT/infer/batch.txt"
    while [ "$i" -le "$REPS" ]; do head -n 1 "$OUT/infer/input.txt" >> "$OUT/infer/batch.txt"; i=$((i + 1)); done
    bv2_infer "$OUT/infer_ours_bf16_$p.txt" ours_bf16 "$OUT/infer/batch.txt" --bf16
    # utterances of new lengths (the bench utterance less 4 k phones): what real text costs, where a
    # primitive built for one length is of no use for the next (PyTorch builds none per length)
    varied_batch $((REPS + 1)) > "$OUT/infer/varied.txt"
    bv2_infer "$OUT/infer_ours_new_lengths_$p.txt" ours_new_lengths "$OUT/infer/varied.txt"
    bv2_infer "$OUT/infer_ours_bf16_new_lengths_$p.txt" ours_bf16_new_lengths "$OUT/infer/varied.txt" --bf16
}
# bv2_infer FILE LABEL BATCH [--bf16]: `bv2 infer` over BATCH's utterances into FILE, then "INFER LABEL
# median min 1 0": ms per second of audio from each utterance's "in T s" but the first (the warm-up)
bv2_infer() {
    f=$1 label=$2 batch=$3
    shift 3
    OMP_NUM_THREADS=$THREADS "$BUILD/bv2" infer "$@" -m "$OUT/infer/G_bench.pth" -c "$OUT/infer/config.json" \
        --speaker "$spk" --language EN --phones-batch --batch "$batch" -o "$OUT/infer/bf16" \
        --seed 7 --sdp-ratio 0 --noise-scale 0.667 --noise-scale-w 0.8 --length-scale "$ls_" \
        > "$f" 2>&1 && echo "rc 0" >> "$f" || true
    awk '/ s of audio .* in [0-9.]+ s/ { for (i = 1; i <= NF; i++) { if ($(i + 1) == "s" && $(i + 2) == "of") a = $i
                                                                    if ($i == "in") t = $(i + 1) }
                                         if (n++ && a > 0) print t * 1e3 / a }' "$f" |
        sort -n | awk -v l="$label" '{ v[NR] = $1 } END { if (NR) printf "INFER %s %.3f %.3f 1 0\n", l, v[int((NR + 1) / 2)], v[1] }' \
        >> "$f"
}
# varied_batch N: N phone lines from the bench utterance, the i-th (from 0) without 4 i of its phones
# before the closing pad (at least one phone kept)
varied_batch() {
    head -n 1 "$OUT/infer/input.txt" | awk -F'|' -v n="$1" '{
        np = split($1, p, " "); split($2, t, " ")
        for (i = 0; i < n; i++) {
            m = np - 4 * i; if (m < 3) m = 3
            ph = p[1]; to = t[1]
            for (j = 2; j < m; j++) { ph = ph " " p[j]; to = to " " t[j] }
            print ph " " p[np] "|" to " " t[np]
        }
    }'
}
for l in $LABELS; do with_policy "$(policy_of "$l")" infer_runs "$(policy_of "$l")" "$l"; done
# infer_ms_per_s FILE SIDE: median ms per second of audio from an "INFER SIDE med min secs frames" line
infer_ms_per_s() { awk -v s="$2" '$1 == "INFER" && $2 == s && $5 > 0 { printf "%.3f", $3 / $5 }' "$1" 2>/dev/null; }
chosen=""
for f in ours torch torch_bf16 ours_bf16 ours_new_lengths ours_bf16_new_lengths; do
    chosen="$chosen $f $(fastest "infer_$f" "$f" $LABELS),"
done
echo "   fastest policy per side:${chosen%,}"
for f in ours torch torch_bf16 ours_bf16 ours_new_lengths ours_bf16_new_lengths; do
    v=$(infer_ms_per_s "$OUT/infer_$f.txt" "$f")
    if [ -n "$v" ]; then
        printf '  %-34s %9.1f ms per second of audio (%s)\n' "infer_$f" "$v" \
            "$(awk '$1 == "INFER" && $6 > 0 { printf "%.2f s of audio, %d frames", $5, $6 }
                    $1 == "INFER" && $6 == 0 { printf "bv2 infer, median over utterances" }' "$OUT/infer_$f.txt")"
    else
        what=failed
        case $f in ours_bf16 | ours_*new_lengths) what=n/a ;; esac
        printf '  %-34s %s: %s\n' "infer_$f" "$what" \
            "$(grep -i -m 1 -e error -e unrecognized "$OUT/infer_$f.txt" || tail -n 1 "$OUT/infer_$f.txt")"
    fi
done

echo
echo "-- the batch-2 runs in full (upstream's default shapes)"
for f in step_ours_b2 step_torch_b2; do echo; grep -v '^RESULT ' "$OUT/$f.txt"; done

# ratio A B: A / B to 2 decimals, or n/a when either is missing
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo n/a; fi; }
num() { if [ -n "$1" ]; then printf "%.0f" "$1"; else echo failed; fi; }

echo
echo "== batch-size curve: train step (median ms of $STEPS steps) and peak RSS (MiB), ours / PyTorch fp32"
printf '%6s | %12s %12s %7s | %12s %12s %7s\n' batch "bertvits2.c" PyTorch ratio "bertvits2.c" PyTorch ratio
for b in $BATCHES; do
    ot=$(field "$OUT/step_ours_b$b.txt" step_ms); tt=$(field "$OUT/step_torch_b$b.txt" step_ms)
    om=$(field "$OUT/step_ours_b$b.txt" max_rss_mib); tm=$(field "$OUT/step_torch_b$b.txt" max_rss_mib)
    printf '%6d | %12s %12s %7s | %12s %12s %7s\n' "$b" "$(num "$ot")" "$(num "$tt")" "$(ratio "$ot" "$tt")" \
        "$(num "$om")" "$(num "$tm")" "$(ratio "$om" "$tm")"
done

st_o=$(field "$OUT/step_ours_b2.txt" step_ms); st_t=$(field "$OUT/step_torch_b2.txt" step_ms)
rs_o=$(field "$OUT/step_ours_b2.txt" max_rss_mib); rs_t=$(field "$OUT/step_torch_b2.txt" max_rss_mib)
st_tb=$(field "$OUT/step_torch_bf16_b2.txt" step_ms); st_ob=$(field "$OUT/step_ours_bf16_b2.txt" step_ms)
in_o=$(infer_ms_per_s "$OUT/infer_ours.txt" ours); in_t=$(infer_ms_per_s "$OUT/infer_torch.txt" torch)
in_tb=$(infer_ms_per_s "$OUT/infer_torch_bf16.txt" torch_bf16); in_ob=$(infer_ms_per_s "$OUT/infer_ours_bf16.txt" ours_bf16)

echo
echo "== PyTorch's own CPU bf16 autocast (torch.autocast(\"cpu\", dtype=torch.bfloat16)) on the same step and synthesis"
echo "   (step: upstream's bf16_run regions; synthesis: net_g.infer inside autocast; bf16 in hardware: ${bf16_flags:-none})"
printf '%-28s %12s %12s %10s | %16s %16s\n' "" "PyTorch fp32" "PyTorch bf16" "bf16/fp32" "ours fp32/torch" "ours bf16/torch"
printf '%-28s %12s %12s %10s | %16s %16s\n' "train step, batch 2 (ms)" "$(num "$st_t")" "$(num "$st_tb")" \
    "$(ratio "$st_tb" "$st_t")" "$(ratio "$st_o" "$st_tb")" "$(ratio "$st_ob" "$st_tb")"
printf '%-28s %12s %12s %10s | %16s %16s\n' "synthesis (ms per s audio)" "$(num "$in_t")" "$(num "$in_tb")" \
    "$(ratio "$in_tb" "$in_t")" "$(ratio "$in_o" "$in_tb")" "$(ratio "$in_ob" "$in_tb")"
echo "   (the last two columns divide by PyTorch bf16: < 1, bertvits2.c is faster than PyTorch with autocast)"

rm -rf "$OUT/infer/G_bench.pth" "$OUT/infer/bf16" # 200 MB of random weights; the text outputs stay
echo
status=0
for v in "$st_o" "$st_t" "$rs_o" "$rs_t" "$in_o" "$in_t"; do [ -n "$v" ] || status=1; done
[ "$status" = 0 ] || echo "# a fp32 run failed (its ratio is n/a): see the 'failed:' lines above and $OUT/"
why_step=""; why_infer=""
[ -n "$st_ob" ] || why_step=$(grep -i -m 1 -e error -e refuse -e 'not supported' "$OUT/step_ours_bf16_b2.txt" ||
                              tail -n 1 "$OUT/step_ours_bf16_b2.txt")
[ -n "$in_ob" ] || why_infer=$(grep -i -m 1 -e error -e unrecognized -e refuse "$OUT/infer_ours_bf16.txt" 2>/dev/null ||
                               echo "no run")
if [ -n "$why_step$why_infer" ]; then
    echo "# bf16 ratios n/a: bv2 does not run bf16 here (tried each run): train.bf16_run: true -> \"${why_step:-ok}\";" \
         "bv2 infer --bf16 -> \"${why_infer:-ok}\""
fi
echo "bench: step_time_ratio=$(ratio "$st_o" "$st_t") rss_ratio=$(ratio "$rs_o" "$rs_t")" \
     "infer_time_ratio=$(ratio "$in_o" "$in_t") bf16_step_time_ratio=$(ratio "$st_ob" "$st_t")" \
     "bf16_infer_time_ratio=$(ratio "$in_ob" "$in_t")"
exit $status
