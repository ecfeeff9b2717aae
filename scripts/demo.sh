#!/usr/bin/env bash
# demo.sh - `make demo`: from nothing to a small trained multi-speaker English voice, on the CPU.
#
#   1. installs what it needs (scripts/install-deps.sh for the build; Debian's `flite` for the voices)
#   2. builds bv2 and fetches the CMUdict lexicon (scripts/fetch-cmudict.sh)
#   3. generates a corpus with flite's voices awb, rms, slt, kal16 (16 kHz) from demo/sentences.txt
#   4. `bv2 resample` to the demo config's 22050 Hz
#   5. `bv2 preprocess`: filelists, zero BERT features, config.json with the speakers, and a small
#      RANDOMLY INITIALISED WavLM (no pretrained wavlm-base-plus here: its loss is only a regulariser)
#   6. `bv2 train` for DEMO_MINUTES minutes (checkpoints, TensorBoard logs, eval samples)
#   7. `bv2 infer`: a sentence that is not in the corpus, with the newest checkpoint, for every voice
#
# Idempotent and resumable: every step skips what is already done, and training resumes from the
# newest checkpoints, so running it again trains DEMO_MINUTES more.
#
# Environment: DEMO_MINUTES (training minutes per run, default 25; 0: stop after step 5), DEMO_DIR (work folder, default
# data/demo), BUILD (build folder, default build), OMP_WAIT_POLICY (default passive: spinning OpenMP
# threads slow a small shared machine down several times).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

DEMO_MINUTES=${DEMO_MINUTES:-25}
DEMO_DIR=${DEMO_DIR:-data/demo}
BUILD=${BUILD:-build}
BV2="$BUILD/bv2"
VOICES="awb rms slt kal16"
SENTENCE="The lighthouse keeper hummed a tune while the waves rolled in."
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

t_start=$SECONDS
t_last=$SECONDS
timings=""
stage() { printf '\n==> %s\n' "$*"; }
took() {
    local dt=$((SECONDS - t_last))
    timings="$timings$(printf '  %-28s %4d s' "$1" "$dt")"$'\n'
    t_last=$SECONDS
}
die() { echo "demo: error: $*" >&2; exit 1; }

case "$DEMO_MINUTES" in
    ''|*[!0-9.]*) die "DEMO_MINUTES must be a positive number of minutes, got '$DEMO_MINUTES'" ;;
esac

# ---------------------------------------------------------------- 1. dependencies
stage "dependencies"
scripts/install-deps.sh
if ! command -v flite >/dev/null 2>&1; then
    # the demo's voices only; the build needs flite1-dev (install-deps.sh), not this program
    echo "demo: installing flite (the speech synthesizer that makes the demo corpus)"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install flite"
        SUDO=sudo
    fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends flite
fi
for v in $VOICES; do
    flite -lv | grep -qw "$v" || die "flite has no voice '$v' (flite -lv lists: $(flite -lv))"
done
took "dependencies"

# ---------------------------------------------------------------- 2. build, lexicon
stage "build ($BUILD/bv2) and lexicon"
make --no-print-directory BUILD="$BUILD" -j"$(nproc)" "$BUILD/bv2"
scripts/fetch-cmudict.sh
export BV2_CMUDICT="$root/data/cmudict.rep"
took "build + lexicon"

# ---------------------------------------------------------------- 3. corpus
stage "corpus: flite voices $VOICES"
raw="$DEMO_DIR/raw"
wavs="$DEMO_DIR/wavs"
mkdir -p "$raw" "$DEMO_DIR/filelists"
transcript="$DEMO_DIR/filelists/transcript.list"
: > "$transcript.tmp"
n=0
made=0
while IFS= read -r line || [ -n "$line" ]; do
    [ -z "${line// /}" ] && continue
    n=$((n + 1))
    for v in $VOICES; do
        mkdir -p "$raw/$v"
        f=$(printf '%s/%03d.wav' "$v" "$n")
        if [ ! -s "$raw/$f" ]; then
            flite -voice "$v" -t "$line" -o "$raw/$f.part.wav"
            mv -f "$raw/$f.part.wav" "$raw/$f"
            made=$((made + 1))
        fi
        printf '%s|%s|EN|%s\n' "$wavs/$f" "$v" "$line" >> "$transcript.tmp"
    done
done < demo/sentences.txt
mv -f "$transcript.tmp" "$transcript"
echo "corpus: $n sentences x $(echo $VOICES | wc -w) voices ($made new files) in $raw"
took "corpus (flite)"

# ---------------------------------------------------------------- 4. resample
stage "resample to the config's rate"
"$BV2" resample --in "$raw" --out "$wavs" -c demo/config.json --skip-existing
took "resample"

# ---------------------------------------------------------------- 5. preprocess
stage "preprocess: filelists, BERT zeros, config, random WavLM"
"$BV2" preprocess -i "$transcript" -c demo/config.json --out-config "$DEMO_DIR/config.json" \
    --cleaned-path "$DEMO_DIR/filelists/cleaned.list" --train-path "$DEMO_DIR/filelists/train.list" \
    --val-path "$DEMO_DIR/filelists/val.list" --make-random-wavlm "$DEMO_DIR/wavlm-random"
took "preprocess"

if [ "$DEMO_MINUTES" = 0 ]; then  # the corpus alone (bench/curves/run.sh trains on it itself)
    echo "demo: DEMO_MINUTES=0: corpus, filelists and $DEMO_DIR/config.json ready; no training"
    exit 0
fi

# ---------------------------------------------------------------- 6. train
model="$DEMO_DIR/model"
stage "train for $DEMO_MINUTES minutes (resumes from $model when it holds checkpoints)"
"$BV2" train -c "$DEMO_DIR/config.json" -m "$model" --max-minutes "$DEMO_MINUTES" --disc-widths small
took "train"

# ---------------------------------------------------------------- 7. synthesize
newest=""
best=-1
for g in "$model"/G_*.pth; do
    [ -e "$g" ] || continue
    s=${g##*/G_}
    s=${s%.pth}
    case "$s" in *[!0-9]*|'') continue ;; esac
    if [ "$s" -gt "$best" ]; then best=$s; newest=$g; fi
done
[ -n "$newest" ] || die "no G_*.pth in $model after training"
stage "synthesize an unseen sentence with $newest"
out="$DEMO_DIR/out"
mkdir -p "$out"
for v in $VOICES; do
    "$BV2" infer -m "$newest" -c "$model/config.json" --speaker "$v" --text "$SENTENCE" -o "$out/$v.wav"
done
took "synthesize"

# ---------------------------------------------------------------- summary
mel_curve=$(awk -F'\t' '$3 == "INFO" && $4 ~ /^\[/ {
        s = $4; gsub(/[][ ]/, "", s); split(s, v, ",");
        printf "    step %6d  loss_mel %7.3f\n", v[7], v[4] }' "$model/train.log" | tail -n 40)
wait_line=$(grep -h "waiting for data" "$model/train.log" | tail -n 1 | sed 's/.*INFO\t//') || true
total=$((SECONDS - t_start))
cat <<EOF

==> demo done in $((total / 60)) min $((total % 60)) s
$timings
what                     where
  model folder           $model   (G_/D_/DUR_/WD_<step>.pth, config.json)
  newest generator       $newest
  training log           $model/train.log
  TensorBoard events     $model and $model/eval   ->  tensorboard --logdir $model
  evaluation samples     $model/eval/<i>_sdp.wav, <i>_nosdp.wav (validation sentences)
  unseen sentence        $out/{$(echo $VOICES | tr ' ' ',')}.wav
                         "$SENTENCE"
  corpus                 $raw (flite, 16 kHz) -> $wavs (22050 Hz), filelists in $DEMO_DIR/filelists

loss_mel (train.log, every train.log_interval steps; it starts near 90):
$mel_curve
last run: ${wait_line:-(no data-wait line in train.log)}

What to expect: a small model (demo/config.json) trained for minutes on two CPU cores, on zero BERT
features and with a RANDOM WavLM (only a regulariser here). After the default 25 minutes (~700 steps
of batch 4) loss_mel falls from ~90 to ~30 and the output follows the sentence's timing and loudness,
but it is still a buzz at the frame rate (22050/256 = 86 Hz), not pitched speech: words need tens of
thousands of steps (many hours on a CPU). Run 'make demo' again to train $DEMO_MINUTES more minutes
from the newest checkpoint (DEMO_MINUTES=<m> to change).
EOF
