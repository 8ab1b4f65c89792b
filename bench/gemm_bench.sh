#!/bin/sh
# Builds and runs the sgemm micro-benchmark (ours vs OpenBLAS) into bench/out/.
# usage: bench/gemm_bench.sh [shape-filter]      extra compiler flags: CFLAGS_EXTRA="-DDUMU_GEMM_KC=256"
# gemm.c is compiled here (so CFLAGS_EXTRA can change its blocking); the kernels and the rest
# come from the library built by `make build` (BUILD, default build/).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${BUILD:-$root/build}/libdumu.a
[ -f "$lib" ] || { echo "gemm_bench: $lib not found: run 'make build' first" >&2; exit 1; }
mkdir -p "$root/bench/out"
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra ${CFLAGS_EXTRA:-} \
    -I"$root/include" -I"$root/src" -I/usr/include/x86_64-linux-gnu \
    "$root/bench/gemm_bench.c" "$root/src/nn/gemm.c" "$lib" \
    -o "$root/bench/out/gemm_bench" -lopenblas -lpthread -lm
exec "$root/bench/out/gemm_bench" "$@"
