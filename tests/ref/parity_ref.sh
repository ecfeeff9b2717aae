#!/bin/sh
# parity_ref.sh - makes the parity sweep's reference data (tests/ref/parity_sweep.py) in OUT
# (default build/parity): upstream Bert-VITS2's one training step on 8 seeds x 2 configs, each in
# float32 and float64. `make parity-ref` runs it; `make parity` then compares our step with it.
#
#   UPSTREAM_DIR=<Bert-VITS2 checkout> tests/ref/parity_ref.sh [OUT] [parity_sweep.py options]
#
# Needs: Debian's python3-torch (1.13) and python3-torchaudio (scripts/install-deps.sh does not
# install them: the build needs no Python), an upstream checkout at the golden data's commit
# (git clone https://github.com/fishaudio/Bert-VITS2 && git -C Bert-VITS2 checkout
# 8f7fbd8c4770965225d258db548da27dc8dd934c), and PyPI for the first run: a venv is made in
# $VENV (default build/parity-venv, over the system site-packages for torch) with pinned
# transformers, librosa, scipy and numba (versions that accept Debian's numpy 1.24).
# GOLDEN (default ../shared/golden) gives the dimensions, tiny WavLM and discriminator widths.
set -eu
OUT=${1:-build/parity}
[ $# -gt 0 ] && shift
VENV=${VENV:-build/parity-venv}
GOLDEN=${GOLDEN:-../shared/golden}
: "${UPSTREAM_DIR:?set UPSTREAM_DIR to a Bert-VITS2 checkout at commit 8f7fbd8c4770965225d258db548da27dc8dd934c (see tests/ref/parity_ref.sh)}"
[ -f "$UPSTREAM_DIR/train_ms.py" ] || { echo "parity_ref.sh: $UPSTREAM_DIR/train_ms.py not found" >&2; exit 2; }
grep -q "net_wd, wl = nets" "$UPSTREAM_DIR/train_ms.py" || {
    echo "parity_ref.sh: $UPSTREAM_DIR is not at the golden's commit 8f7fbd8c (its train_and_evaluate builds the WavLMLoss itself)" >&2
    exit 2
}
[ -f "$GOLDEN/manifest.json" ] || { echo "parity_ref.sh: no $GOLDEN/manifest.json (set GOLDEN)" >&2; exit 2; }
/usr/bin/python3 -c "import torch, torchaudio" 2>/dev/null || {
    echo "parity_ref.sh: /usr/bin/python3 lacks torch/torchaudio: apt-get install python3-torch python3-torchaudio" >&2
    exit 2
}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import transformers, librosa, numba" 2>/dev/null; then
    echo "parity_ref.sh: making $VENV (pip: transformers==4.30.2 librosa==0.10.1 scipy==1.11.4 numba==0.58.1)"
    /usr/bin/python3 -m venv --system-site-packages "$VENV"
    "$VENV/bin/pip" install -q transformers==4.30.2 librosa==0.10.1 scipy==1.11.4 numba==0.58.1
fi
# one thread: the golden data were made so, and the machine is shared
OMP_NUM_THREADS=1 GOLDEN="$GOLDEN" UPSTREAM_DIR="$UPSTREAM_DIR" \
    "$VENV/bin/python" tests/ref/parity_sweep.py --out "$OUT" --golden-check "$@"
