#!/bin/sh
# install-deps.sh - install the Debian packages bertvits2.c builds against, when missing.
# Idempotent and non-interactive: packages already present are left alone; run it twice safely.
# Needs root (or sudo) only when something is actually missing.
set -eu

# Build dependencies and why each was chosen (README "Dependencies" says more):
#   libdnnl-dev            oneDNN: convolution / deconvolution forward+backward, what PyTorch uses on CPU
#   libopenblas-openmp-dev OpenBLAS (OpenMP build, the fastest measured here): sgemm for matmul / LSTM
#   libfftw3-dev           FFTW (single precision): the STFT of spectrograms and its backward
#   libcjson-dev           cJSON: config.json, safetensors headers, the golden manifest
#   libyaml-dev            libyaml: upstream config.yml (train_ms section)
#   libsndfile1-dev        libsndfile: WAV reading/writing (data and synthesis)
#   libsoxr-dev            soxr: offline resampling of datasets (bv2 resample)
#   libzip-dev             libzip: PyTorch's zip checkpoint container
#   libpng-dev             libpng: TensorBoard image summaries
#   flite1-dev             flite: letter-to-sound for English words missing from the lexicon; demo voices
#   libopenmpi-dev openmpi-bin  OpenMPI: data-parallel training, `mpirun -np N bv2 train` (DDP's all-reduce)
#   libmecab-dev          MeCab: morphological analysis of Japanese text (the JP front-end)
#   open-jtalk-mecab-naist-jdic  OpenJTalk's MeCab dictionary, the one upstream's pyopenjtalk reads
#   gcc make pkg-config    the toolchain; unzip for scripts/fetch-cmudict.sh
#   libsentencepiece-dev g++  SentencePiece: DeBERTa-v3's tokenizer (bv2 bert-gen); C++, so one shim file needs g++
#   libutf8proc-dev        utf8proc: Unicode categories, NFD/NFKC, lower case for the BERT tokenizers
PKGS="gcc make pkg-config unzip libdnnl-dev libopenblas-openmp-dev libfftw3-dev libcjson-dev libsndfile1-dev \
libsoxr-dev libzip-dev libpng-dev libyaml-dev flite1-dev libsentencepiece-dev g++ libutf8proc-dev libopenmpi-dev \
openmpi-bin libmecab-dev open-jtalk-mecab-naist-jdic"

# `install-deps.sh fuzz` (make fuzz, make tsan) installs only what those add; `make test` never needs it:
#   clang libclang-rt-dev  libFuzzer and the ASan/UBSan/TSan runtimes; llvm: llvm-symbolizer for stacks
#   libomp-dev             omp.h for clang, and LLVM's OpenMP runtime with its Archer tool for TSan
if [ "${1:-}" = fuzz ]; then PKGS="clang libclang-rt-dev libomp-dev llvm"; fi

# `install-deps.sh bench` (make bench's PyTorch side; bench/setup-venv.sh runs it) installs only what that adds:
#   python3-torch python3-torchaudio  upstream's model code on Debian's PyTorch 1.13 (oneDNN 2.6.3) and torchaudio
#   libopenblas0-openmp    the BLAS behind PyTorch's libblas.so.3: the OpenMP build, fastest here (reference BLAS is 4x slower)
#   python3-venv           build/bench-venv over these system packages, plus bench/requirements-torch.txt from PyPI
#   python3-yaml python3-requests python3-typing-extensions  the rest of what the pinned transformers imports
#   time                   /usr/bin/time: peak RSS in bench/bert.sh
if [ "${1:-}" = bench ]; then
    PKGS="python3-torch python3-torchaudio libopenblas0-openmp python3-venv python3-yaml python3-requests \
python3-typing-extensions time"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all build dependencies present"
    exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install-deps: error: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
echo "install-deps: done"
