#!/bin/sh
# hostile.sh - the hostile-input part of the reliability campaign (issue 14), out of CI: bad files,
# configs and flags for every command. Each must end with exit 2 (command line) or 3 (input) and an
# "error: " line naming the file and the line or key where there is one - never a signal (crash),
# a hang (30 s limit), exit 0, or a replaced special file.
#
#   tests/campaign/hostile.sh            BUILD=<dir> (default build), GOLDEN=<dir> (../shared/golden)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
GOLDEN=${GOLDEN:-$PWD/../shared/golden}
BV2="$BUILD/bv2"
export OMP_NUM_THREADS=1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
G="$GOLDEN/checkpoints/G_0.pth" C="$GOLDEN/checkpoints/config.json"
n=0 fail=0
# expect CODE FRAGMENT -- bv2 args...: exit CODE and FRAGMENT in stderr
expect() {
    code=$1 frag=$2
    shift 3
    n=$((n + 1))
    timeout 30 "$BV2" "$@" >"$t/out" 2>"$t/err"
    rc=$?
    if [ $rc -ne "$code" ] || ! grep -q "^error: " "$t/err" || ! grep -qF -- "$frag" "$t/err"; then
        fail=$((fail + 1))
        echo "FAILED ($rc, want $code / '$frag'): bv2 $*"
        head -c 300 "$t/err"
        echo
    fi
}
cfgedit() { # cfgedit OUT python-expression-on-d: a copy of the golden config with one edit
    python3 -c "import json,sys; d=json.load(open('$C')); $2; json.dump(d, open('$1','w'))"
}

# ---- files that are not what they claim
: >"$t/empty.pth"; head -c 4096 /dev/urandom >"$t/random.pth"; mkdir "$t/dir.pth"
printf 'PK\003\004garbage' >"$t/zipstub.pth"
head -c 20000 "$G" >"$t/cut.pth"
expect 3 "empty.pth" -- infer -m "$t/empty.pth" -c "$C" --text "Hi." -o "$t/o.wav"
expect 3 "random.pth" -- infer -m "$t/random.pth" -c "$C" --text "Hi." -o "$t/o.wav"
expect 3 "Is a directory" -- infer -m "$t/dir.pth" -c "$C" --text "Hi." -o "$t/o.wav"
expect 3 "zipstub.pth" -- infer -m "$t/zipstub.pth" -c "$C" --text "Hi." -o "$t/o.wav"
expect 3 "cut.pth" -- infer -m "$t/cut.pth" -c "$C" --text "Hi." -o "$t/o.wav"
expect 3 "cut.pth" -- export -m "$t/cut.pth" -c "$C" -o "$t/e.pth"
expect 3 "Is a directory" -- infer -m "$G" -c "$t" --text "Hi." -o "$t/o.wav"
expect 3 "is a folder" -- infer -m "$G" -c "$C" --speaker spkC_EN --text "Hi." -o "$t"
expect 3 "is a folder" -- g2p --text "hi" --lexicon "$t"
head -c 3000 /dev/urandom >"$t/bin.rep"
expect 3 "bin.rep" -- g2p --text "hi" --lexicon "$t/bin.rep"
ln -s /nonexistent/x "$t/dangling.pth"
expect 3 "link to nothing" -- export -m "$G" -c "$C" -o "$t/dangling.pth"

# ---- config.json keys
for edit in "d['data']['n_speakers']=2147483648" "d['data']['n_speakers']=2**53" "d['model']['n_layers']=2147483647" \
            "d['data']['n_mel_channels']=2147483647" "d['model']['hidden_channels']=-8" \
            "d['train']['segment_size']=4000" "d['model']['upsample_rates']=[8,8,2,2,4]" "d['model']['n_heads']=3" \
            "d['data']['sampling_rate']=4294989346" "d['train']['batch_size']=10**9" "d['model']['resblock']='3'" \
            "del d['train']['seed']" "d['train']['learning_rate']='fast'"; do
    key=$(echo "$edit" | sed -n "s/.*\['\([a-z_]*\)'\]\['\([a-zA-Z_]*\)'\].*/\1.\2/p")
    cfgedit "$t/c.json" "$edit"
    expect 3 "$key" -- infer -m "$G" -c "$t/c.json" --text "Hi." -o "$t/o.wav"
done
printf '{"train": ' >"$t/trunc.json"
expect 3 "trunc.json" -- infer -m "$G" -c "$t/trunc.json" --text "Hi." -o "$t/o.wav"

# ---- text, phones and flags
expect 3 "empty text" -- infer -m "$G" -c "$C" --speaker spkC_EN --text "" -o "$t/o.wav"
expect 3 "unknown speaker" -- infer -m "$G" -c "$C" --speaker nobody --text "Hi." -o "$t/o.wav"
expect 3 "word2ph[0]" -- infer -m "$G" -c "$C" --speaker spkC_EN --phones "_ hh ah _|0 3 1 0|9223372036854775807 9223372036854775807 2" -o "$t/o.wav"
expect 3 "unknown phone" -- infer -m "$G" -c "$C" --speaker spkC_EN --phones "_ xx _|0 0 0" -o "$t/o.wav"
expect 2 "--length-scale" -- infer -m "$G" -c "$C" --text "Hi." --length-scale -1
expect 2 "--sdp-ratio" -- infer -m "$G" -c "$C" --text "Hi." --sdp-ratio 7
expect 2 "unknown option" -- infer -m "$G" --volume 11 --text "Hi."
BV_MEM_LIMIT_MB=12 expect 3 "--length-scale" -- infer -m "$G" -c "$C" --speaker spkC_EN --text "Hello there." --length-scale 1000 -o "$t/o.wav"
expect 3 "U+001B" -- g2p --text "$(printf 'caf\033[31m\001')"

# ---- resample
mkdir -p "$t/in" "$t/rs"
python3 -c "
import struct
def wav(p, rate, n, ch=1, bits=16, fmt=1, data=None):
    d = data if data is not None else b'\x00\x00' * n * ch
    h = b'RIFF' + struct.pack('<I', 36 + len(d)) + b'WAVEfmt ' + struct.pack('<IHHIIHH', 16, fmt, ch, rate, rate * ch * bits // 8, ch * bits // 8, bits)
    open(p, 'wb').write(h + b'data' + struct.pack('<I', len(d)) + d)
wav('$t/in/rate0.wav', 0, 100)
wav('$t/in/ch0.wav', 16000, 100, ch=0)
wav('$t/in/one_hz.wav', 1, 6000)
wav('$t/in/nan.wav', 16000, 4, bits=32, fmt=3, data=struct.pack('<4f', 0.1, float('nan'), 0.2, 0.3))
"
expect 3 "4 files failed" -- resample --in "$t/in" --out "$t/rs" --sr 768000 --progress none
expect 2 "768000" -- resample --in "$t/in" --out "$t/rs" --sr 10000000
expect 2 "'fast'" -- resample --in "$t/in" --out "$t/rs" --sr fast
expect 2 "overwritten" -- resample --in "$t/in" --out "$t/in" --sr 22050

# ---- preprocess and train inputs
printf 'a.wav|s|EN|x|_ hh ah _|0 3 1 0|9223372036854775807 9223372036854775807 2\n' >"$t/t.list"
cfgedit "$t/p.json" "pass"
expect 3 "word2ph[0]" -- preprocess -i "$t/t.list" -c "$t/p.json"
printf 'a.wav|s|EN|t\000x|_ hh _|0 3 0|1 1 1\n' >"$t/nul.list"
cfgedit "$t/tr.json" "d['data']['training_files']='$t/nul.list'; d['data']['validation_files']='$t/nul.list'"
expect 3 "NUL byte" -- train -c "$t/tr.json" -m "$t/m1" --progress none --max-steps 1
: >"$t/empty.list"
cfgedit "$t/tr2.json" "d['data']['training_files']='$t/empty.list'; d['data']['validation_files']='$t/empty.list'"
expect 3 "empty.list" -- train -c "$t/tr2.json" -m "$t/m2" --progress none --max-steps 1
expect 2 "error: train: " -- train -c "$C" -m "$t/m3" --max-steps -3
printf 'train_ms:\n  keep_ckpts: 2\n---\ntrain_ms:\n  keep_ckpts: 3\n' >"$t/two.yml"
expect 3 "second YAML document" -- train -y "$t/two.yml" --progress none --max-steps 1
cfgedit "$t/tr3.json" "d['data']['training_files']='$t/missing.list'"
expect 3 "missing.list" -- train -c "$t/tr3.json" -m "$t/m4" --progress none --max-steps 1

# ---- special files are never replaced
expect 3 "/dev/full" -- export -m "$G" -c "$C" -o /dev/full
[ -c /dev/full ] || { echo "FAILED: /dev/full was replaced"; fail=$((fail + 1)); }
echo "hostile.sh: $n bad inputs tried, $fail handled wrongly"
[ $fail -eq 0 ]
