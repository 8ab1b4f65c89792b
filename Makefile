# Dumu: the two commands of the README.
#   make run    set up everything, build, and serve the web app (http://127.0.0.1:8000)
#   make test   set up everything, build, and run the whole test suite (what CI runs)
.PHONY: run example test build setup check asan tsan fuzz format-check clean

BUILD ?= build
JOBS  ?= 2
HOST  ?= 127.0.0.1
PORT  ?= 8000

setup:
	scripts/setup

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	cd web && npm run build --silent

run: build
	$(BUILD)/dumu serve --host $(HOST) --port $(PORT) --data-dir data --web-dir web/dist

# The command line on its own: the bass line of a test-data song into out/.
example: build
	scripts/example

# Everything CI checks: formatting, release tests, unit tests under ASan+UBSan and under
# ThreadSanitizer, a short fuzz run.
test: build
	$(MAKE) --no-print-directory format-check
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory tsan
	$(MAKE) --no-print-directory fuzz

check: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan: setup
	cmake -S . -B $(BUILD)-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDUMU_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --test-dir $(BUILD)-asan --output-on-failure -j $(JOBS) -L unit

# The unit tests run the thread pool, the GEMMs and the layers on several threads; the README
# promises the same bits for any thread count, so data races are bugs.
tsan: setup
	cmake -S . -B $(BUILD)-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUMU_TSAN=ON \
	    $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir $(BUILD)-tsan --output-on-failure -j $(JOBS) -L unit

FUZZ_SECONDS ?= 30
fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DDUMU_FUZZ=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)-fuzz -j $(JOBS)
	scripts/run-fuzzers $(BUILD)-fuzz $(FUZZ_SECONDS)

format-check:
	git ls-files '*.c' '*.h' '*.cpp' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
