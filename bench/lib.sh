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
}
