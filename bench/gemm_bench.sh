#!/bin/sh
# Builds and runs the sgemm micro-benchmark (ours vs OpenBLAS) into bench/out/.
# usage: bench/gemm_bench.sh [shape-filter]      extra compiler flags: CFLAGS_EXTRA="-DDUMU_GEMM_KC=256"
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/bench/out"
cc -std=c11 -O2 -march=native -D_POSIX_C_SOURCE=200809L -Wall -Wextra ${CFLAGS_EXTRA:-} \
    -I"$root/include" -I"$root/src" -I/usr/include/x86_64-linux-gnu \
    "$root/bench/gemm_bench.c" "$root/src/nn/gemm.c" "$root/src/nn/simd_gemm_avx512.c" \
    "$root/src/core/core.c" -o "$root/bench/out/gemm_bench" -lopenblas -lpthread -lm
exec "$root/bench/out/gemm_bench" "$@"
