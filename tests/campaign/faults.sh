#!/bin/sh
# faults.sh - the fault-injection part of the reliability campaign (issue 14), out of CI: it needs
# root (tmpfs and read-only mounts) and a few minutes. Every fault must end in a clear error or a
# clean stop, never a crash or a hang, and leave every checkpoint on disk loadable:
#   1. disk full during checkpoint saves (a 6 MB tmpfs as the model folder)
#   2. disk full during train.log / TensorBoard writes (the log file alone fills the disk)
#   3. a read-only model folder (a read-only bind mount: fails even for root)
#   4. the model folder deleted while training
#   5. SIGTERM and SIGINT at random moments (N_SIGNALS, default 20): exit 0, "saved step", resumable
# The SIGKILL rounds are the test itself: BV_KILL_ROUNDS=50 build/bv2-tests -v trainer_sigkill.
#
#   tests/campaign/faults.sh            BUILD=<dir> (default build)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
BV2="$BUILD/bv2"
N_SIGNALS=${N_SIGNALS:-20}
export OMP_NUM_THREADS=1
[ "$(id -u)" -eq 0 ] || { echo "faults.sh: needs root (mounts)" >&2; exit 2; }
fail=0 faults=0
bad() { echo "FAULT FAILED: $*"; fail=$((fail + 1)); }

# A tiny dataset made by the trainer test's own fixture (kept with BV_TRAINER_KEEP=1).
data=$(BV_TRAINER_KEEP=1 "$BUILD/bv2-tests" trainer_bounded_run 2>&1 | sed -n 's/^  kept //p' | tail -n 1)
[ -d "$data" ] || { echo "faults.sh: no fixture dataset" >&2; exit 2; }
cfg="$data/config.json"
train() { m=$1; shift; "$BV2" train -c "$cfg" -m "$m" --disc-widths small --progress none "$@"; }
every_ckpt_loads() { # the model folder's checkpoints all load (export reads the whole file)
    for f in "$1"/G_*.pth; do
        [ -e "$f" ] || continue
        "$BV2" export -m "$f" -c "$cfg" -o /dev/null >/dev/null 2>&1 || { bad "$f does not load"; return; }
    done
}
mnt="$data/mnt"
mkdir -p "$mnt"

echo "== 1. disk full during checkpoint saves"
mount -t tmpfs -o size=6m tmpfs "$mnt"
train "$mnt/model" --max-steps 50 >"$data/out1" 2>&1; rc=$?
faults=$((faults + 1))
[ $rc -eq 3 ] && grep -q "No space left" "$data/out1" || bad "disk full (save): exit $rc: $(tail -n 2 "$data/out1")"
every_ckpt_loads "$mnt/model"
ls "$mnt/model" | grep -q '\.tmp\.' && bad "a temporary was left on the full disk"
umount "$mnt"

echo "== 2. disk full during log writes"
mount -t tmpfs -o size=6m tmpfs "$mnt"
mkdir -p "$mnt/model"
head -c 6000000 /dev/zero > "$mnt/filler" 2>/dev/null # leaves ~100 KB: train.log / events fill it first
train "$mnt/model" --max-steps 20 >"$data/out2" 2>&1; rc=$?
faults=$((faults + 1))
[ $rc -ne 0 ] && [ $rc -lt 128 ] || bad "disk full (log): exit $rc"
grep -q "error:" "$data/out2" || bad "disk full (log): no error message"
every_ckpt_loads "$mnt/model"
umount "$mnt"

echo "== 3. read-only model folder"
mkdir -p "$data/ro/model"
mount --bind "$data/ro" "$mnt" && mount -o remount,bind,ro "$mnt"
train "$mnt/model" --max-steps 2 >"$data/out3" 2>&1; rc=$?
faults=$((faults + 1))
[ $rc -eq 3 ] && grep -q "Read-only" "$data/out3" || bad "read-only: exit $rc: $(tail -n 2 "$data/out3")"
umount "$mnt"

echo "== 4. model folder deleted while training"
"$BV2" train -c "$cfg" -m "$data/gone" --disc-widths small --progress none --max-steps 1000 >"$data/out4" 2>&1 &
pid=$!
sleep 3
rm -rf "$data/gone"
for i in $(seq 60); do kill -0 $pid 2>/dev/null || break; sleep 1; done
faults=$((faults + 1))
if kill -0 $pid 2>/dev/null; then bad "deleted folder: still running after 60 s"; kill -9 $pid; fi
wait $pid; rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] || bad "deleted folder: exit $rc (a crash, or success with nowhere to write)"

echo "== 5. SIGTERM / SIGINT at random moments ($N_SIGNALS)"
prev=-1
for i in $(seq "$N_SIGNALS"); do
    "$BV2" train -c "$cfg" -m "$data/sig" --disc-widths small --progress none --max-steps 1000 >"$data/out5" 2>&1 &
    pid=$!
    sleep "0.$(shuf -i 100-999 -n 1)"
    sig=TERM; [ $((i % 2)) -eq 0 ] && sig=INT
    kill -s $sig $pid 2>/dev/null
    wait $pid; rc=$?
    faults=$((faults + 1))
    [ $rc -eq 0 ] || bad "SIG$sig round $i: exit $rc: $(tail -n 2 "$data/out5")"
    last=$(ls "$data/sig" 2>/dev/null | sed -n 's/^G_\([0-9]*\)\.pth$/\1/p' | sort -n | tail -n 1)
    [ -n "$last" ] && [ "$last" -ge "$prev" ] || bad "SIG$sig round $i: newest step ${last:-none} < $prev"
    prev=${last:--1}
done
every_ckpt_loads "$data/sig"

rm -rf "$data"
echo "faults.sh: $faults faults injected, $fail failed"
[ $fail -eq 0 ]
