# sluss: the two commands are `make demo` and `make test`; see README.md.
#
#   make test    install what is missing, build, run every test (CTest, the
#                demo among them), all again under ASan+UBSan, and a short
#                fuzz run
#   make demo    install what is missing, build, build the analysis images
#                (once: skipped while their recipes are unchanged), run the
#                example study; SLURM=1: on a private single-node Slurm
#                (scripts/slurm-local), each job a Slurm batch job
#   make images  build the analysis images python-3.11 and r-4.2 into
#                /srv/sluss/images (scripts/build-image --if-changed)
#   make build   build into build/ (RelWithDebInfo, warnings as errors)
#   make run     build and start slussd with the default config (./.sluss)
#   make fuzz    fuzz the sluss.yaml parser for FUZZ_SECONDS (default 60)
#   make bench   every benchmark in bench/, sluss against Slurm (installed
#                and started by scripts/slurm-local) in the same run;
#                rewrites docs/benchmarks.md (about 15 min; QUICK=1: a
#                1-minute subset, written to build/benchmarks-quick.md)
#   make clean   remove build trees and demo state

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
CLANG ?= clang++-16
# libstdc++ 12 hides std::expected from clang unless it claims C++20
# concepts; clang 16 implements what <expected> uses.
CLANG_FLAGS := -Wno-builtin-macro-redefined -U__cpp_concepts -D__cpp_concepts=202002L

.PHONY: all deps demo-deps images build build-asan test fuzz fuzz-build demo run bench clean

all: build

deps:
	@scripts/install-deps

demo-deps:
	@scripts/install-deps --demo

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSLUSS_SANITIZE=ON

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test: demo-deps build build-asan
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30
	@echo "== every test under ASan+UBSan =="
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)
	@echo "== every test (RelWithDebInfo) =="
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

fuzz-build: deps
	@if ! command -v $(CLANG) >/dev/null; then echo "fuzz: $(CLANG) not found; skipped"; exit 0; fi; \
	CXX=$(CLANG) cmake -S . -B $(FUZZ_BUILD) -DSLUSS_FUZZ=ON -DSLUSS_TESTS=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS="$(CLANG_FLAGS) -fsanitize=address,undefined" >/dev/null; \
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target pipeline_fuzz image_contents_fuzz output_check_fuzz

fuzz: fuzz-build
	@if ! command -v $(CLANG) >/dev/null; then exit 0; fi; \
	corpus=$$(mktemp -d); cp fuzz/corpus/pipeline/* "$$corpus"/; \
	echo "== fuzzing sluss.yaml for $(FUZZ_SECONDS)s =="; \
	ASAN_SYMBOLIZER_PATH=$$(command -v llvm-symbolizer-16 || true) \
	  $(FUZZ_BUILD)/fuzz/pipeline_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ \
	  "$$corpus" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|SUMMARY|==[0-9]+==ERROR)" ; \
	status=$${PIPESTATUS[0]}; rm -rf "$$corpus"; exit $$status

bench: build
	BUILD=$(BUILD) bench/run-all $(if $(QUICK),--quick)

# The example study's analysis images, built from Debian's packages. Where
# one cannot be built (no root, no apt), the demo still runs, on the host
# image, and says so loudly.
IMAGES ?= python-3.11 r-4.2
images: demo-deps
	@for i in $(IMAGES); do \
	  scripts/build-image --if-changed $$i || \
	    printf '\033[1;33mmake: WARNING: image %s could not be built (above); the demo falls back to the host image\033[0m\n' $$i >&2; \
	done

demo: demo-deps build images
	SLURM=$(SLURM) scripts/demo

run: build
	$(BUILD)/daemon/slussd

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) .sluss examples/cohort-study/data
