# lib.sh - sourced by the bench scripts that run upstream's PyTorch code (run.sh, compare.sh, step.sh,
# infer.sh): where upstream's code is, and the Python that runs it.
#
#   UPSTREAM_DIR   upstream Bert-VITS2 v2.3's source (default $BUILD/upstream). bench_need_upstream
#                  stops with what to get and where when it is absent: nothing is downloaded for you.
#   BENCH_PYTHON   the Python of the PyTorch side. Unset: bench_python makes (once) and uses
#                  $BUILD/bench-venv (bench/setup-venv.sh: Debian's python3-torch + pinned PyPI packages).
# Needs BUILD set and the working directory at the repository root.

UPSTREAM_DIR=${UPSTREAM_DIR:-$BUILD/upstream}

# Stops (exit 1) unless UPSTREAM_DIR holds upstream v2.3's model code; then makes it absolute.
bench_need_upstream() {
    why=""
    if [ ! -d "$UPSTREAM_DIR" ]; then
        why="there is no folder $UPSTREAM_DIR"
    elif [ ! -f "$UPSTREAM_DIR/models.py" ] || [ ! -f "$UPSTREAM_DIR/losses.py" ] ||
         [ ! -f "$UPSTREAM_DIR/text/symbols.py" ] || [ ! -f "$UPSTREAM_DIR/configs/config.json" ]; then
        why="$UPSTREAM_DIR lacks models.py, losses.py, text/symbols.py or configs/config.json"
    elif ! grep -q "class WavLMDiscriminator" "$UPSTREAM_DIR/models.py" ||
         ! grep -q "class WavLMLoss" "$UPSTREAM_DIR/losses.py"; then
        why="$UPSTREAM_DIR is not v2.3 (its models.py / losses.py have no WavLMDiscriminator / WavLMLoss)"
    fi
    if [ -n "$why" ]; then
        cat >&2 <<EOF
bench: the PyTorch side needs upstream Bert-VITS2 v2.3's source, and $why.
Get the v2.3 tag into $UPSTREAM_DIR (or anywhere, then run with UPSTREAM_DIR=<that folder>):
    git clone --depth 1 --branch v2.3 https://github.com/fishaudio/Bert-VITS2 $UPSTREAM_DIR
or unpack the tag's tarball there:
    mkdir -p $UPSTREAM_DIR && curl -L https://github.com/fishaudio/Bert-VITS2/archive/refs/tags/v2.3.tar.gz |
        tar -xz -C $UPSTREAM_DIR --strip-components=1
Only its Python code is used (no model weights: the benchmarks use random ones).
EOF
        exit 1
    fi
    UPSTREAM_DIR=$(realpath "$UPSTREAM_DIR")
    export UPSTREAM_DIR
}

# Sets and exports BENCH_PYTHON, making $BUILD/bench-venv first when BENCH_PYTHON is unset.
bench_python() {
    if [ -z "${BENCH_PYTHON:-}" ]; then
        bench/setup-venv.sh "$BUILD/bench-venv" >&2
        BENCH_PYTHON="$(cd "$BUILD/bench-venv/bin" && pwd)/python" # not realpath: bin/python is a symlink
    fi
    export BENCH_PYTHON
    bench_openblas_core
}

# OpenBLAS 0.3.21 (Debian's, under both PyTorch and bv2) does not know CPUs newer than it (e.g. the
# Xeon model 207, Emerald Rapids) and falls back to its Prescott (SSE3) kernels: PyTorch's sgemm then
# runs at ~3.5 GFLOP/s instead of ~50 on 2 cores, and the PyTorch side would be a straw man. When
# OpenBLAS says Prescott on a CPU with AVX2 or AVX-512, name the right core (OPENBLAS_CORETYPE, for
# both sides; the user's own OPENBLAS_CORETYPE wins). Printed so every report shows it.
bench_openblas_core() {
    [ -n "${OPENBLAS_CORETYPE:-}" ] && { echo "bench: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (yours)" >&2; return 0; }
    core=$(OPENBLAS_VERBOSE=2 "$BENCH_PYTHON" -c "import torch" 2>&1 | sed -n 's/^Core: //p' | head -n 1)
    [ "$core" = Prescott ] || return 0
    flags=$(grep -m 1 '^flags' /proc/cpuinfo)
    case " $flags " in
    *" avx512_bf16 "*) OPENBLAS_CORETYPE=Cooperlake ;;
    *" avx512f "*) OPENBLAS_CORETYPE=SkylakeX ;;
    *" avx2 "*) OPENBLAS_CORETYPE=Haswell ;;
    *) return 0 ;;
    esac
    export OPENBLAS_CORETYPE
    echo "bench: OpenBLAS takes this CPU for a Prescott (SSE3 kernels); OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE for both sides" >&2
}
