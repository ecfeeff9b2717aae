#!/bin/sh
# setup-venv.sh - makes the Python that runs upstream's PyTorch code for `make bench`:
#   bench/setup-venv.sh [VENV]     (default build/bench-venv)
#
# 1. `scripts/install-deps.sh bench`: Debian's python3-torch 1.13 on the OpenMP OpenBLAS, torchaudio,
#    python3-venv and the few system modules transformers imports (root or sudo, only when missing).
# 2. VENV = /usr/bin/python3 -m venv --system-site-packages (Debian's python, so Debian's torch is the
#    one imported), then bench/requirements-torch.txt's exact versions from PyPI, --no-deps.
# 3. VENV's site-packages/vector_quantize_pytorch.py: a stand-in for the module v2.3's models.py imports
#    (`from vector_quantize_pytorch import VectorQuantize`) and never uses; the real package would pull
#    in a newer torch.
# 4. Checks that torch, transformers and numba import, and says which BLAS torch's matmuls reach.
# Done once: VENV/.bench-ready records a hash of this script and the requirements; when either
# changes, VENV is made anew. Downloads ~70 MB from PyPI the first time.
set -eu
cd "$(dirname "$0")/.."
VENV=${1:-build/bench-venv}
REQ=bench/requirements-torch.txt
scripts/install-deps.sh bench
want=$(cat bench/setup-venv.sh "$REQ" | sha256sum | cut -c1-16)
if [ -f "$VENV/.bench-ready" ] && [ "$(cat "$VENV/.bench-ready")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi
echo "setup-venv: making $VENV (Debian's python3-torch + $REQ)"
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
/usr/bin/python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary :all: -r "$REQ"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat > "$site/vector_quantize_pytorch.py" <<'EOF'
"""Stand-in written by bench/setup-venv.sh: Bert-VITS2 v2.3's models.py imports VectorQuantize and
never uses it (the real package is not installed: it wants a newer torch than Debian's)."""


class VectorQuantize:  # noqa: D101
    def __init__(self, *args, **kwargs):
        raise RuntimeError("vector_quantize_pytorch is a stand-in (bench/setup-venv.sh): not usable")
EOF
"$VENV/bin/python" - <<'EOF'
import sys

import numba
import torch
import transformers
import vector_quantize_pytorch  # noqa: F401

a = torch.randn(64, 64)
(a @ a).sum().item()  # loads the BLAS
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and ".so" in l})
print(f"setup-venv: python {sys.version.split()[0]}, torch {torch.__version__}, transformers "
      f"{transformers.__version__}, numba {numba.__version__}; BLAS: {' '.join(libs) or '(none mapped)'}")
if not any("openblas-openmp" in l for l in libs):
    print("setup-venv: warning: torch's BLAS is not the OpenMP OpenBLAS (the fastest here): the PyTorch "
          "baseline will be slow. Fix: update-alternatives --set libblas.so.3-x86_64-linux-gnu "
          "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3")
EOF
echo "$want" > "$VENV/.bench-ready"
