/* simd.c - picks the kernel tables for the CPU in hand (see simd.h). */
#include "nn/simd.h"

#include <pthread.h>

#include "nn/kernels/variant.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dumu_isa g_best;                   /* written once under g_once, read-only afterwards */
static dumu_isa g_force = DUMU_ISA_COUNT; /* test hook (dumu_simd_force); COUNT = none */
static int g_bf16;                        /* AVX512_BF16 too; written once under g_once */

/* __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0). */
static void detect(void) {
    __builtin_cpu_init();
    g_best = DUMU_ISA_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) g_best = DUMU_ISA_AVX2;
    if (g_best == DUMU_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        g_best = DUMU_ISA_AVX512;
    g_bf16 = g_best == DUMU_ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
}

extern const dumu_gemm_bf16_kernels dumu_gemm_bf16_kernels_avx512;

const dumu_gemm_bf16_kernels *dumu_gemm_bf16_simd(void) {
    pthread_once(&g_once, detect);
    return g_bf16 && dumu_simd_active() == DUMU_ISA_AVX512 ? &dumu_gemm_bf16_kernels_avx512 : NULL;
}

dumu_isa dumu_simd_best(void) {
    pthread_once(&g_once, detect);
    return g_best;
}

dumu_isa dumu_simd_active(void) {
    dumu_isa best = dumu_simd_best();
    return g_force < best ? g_force : best;
}

void dumu_simd_force(dumu_isa isa) {
    g_force = isa;
}

const char *dumu_isa_name(dumu_isa isa) {
    switch (isa) {
    case DUMU_ISA_SCALAR: return "scalar";
    case DUMU_ISA_AVX2: return "avx2";
    case DUMU_ISA_AVX512: return "avx512";
    case DUMU_ISA_COUNT: break;
    }
    return "unknown";
}

const dumu_gemm_kernels *dumu_gemm_kernels_for(dumu_isa isa) {
    static const dumu_gemm_kernels *const tables[DUMU_ISA_COUNT] = {
        &dumu_gemm_kernels_scalar, &dumu_gemm_kernels_avx2, &dumu_gemm_kernels_avx512};
    if ((unsigned)isa >= DUMU_ISA_COUNT || isa > dumu_simd_best()) return NULL;
    return tables[isa];
}

const dumu_bp_kernels *dumu_bp_kernels_for(dumu_isa isa) {
    static const dumu_bp_kernels *const tables[DUMU_ISA_COUNT] = {
        &dumu_bp_kernels_scalar, &dumu_bp_kernels_avx2, &dumu_bp_kernels_avx512};
    if ((unsigned)isa >= DUMU_ISA_COUNT || isa > dumu_simd_best()) return NULL;
    return tables[isa];
}

const dumu_gemm_kernels *dumu_gemm_simd(void) {
    return dumu_gemm_kernels_for(dumu_simd_active());
}

const dumu_bp_kernels *dumu_bp_simd(void) {
    return dumu_bp_kernels_for(dumu_simd_active());
}

const dumu_dm_kernels *dumu_dm_kernels_for(dumu_isa isa) {
    static const dumu_dm_kernels *const tables[DUMU_ISA_COUNT] = {
        &dumu_dm_kernels_scalar, &dumu_dm_kernels_avx2, &dumu_dm_kernels_avx512};
    if ((unsigned)isa >= DUMU_ISA_COUNT || isa > dumu_simd_best()) return NULL;
    return tables[isa];
}

const dumu_dm_kernels *dumu_dm_simd(void) {
    return dumu_dm_kernels_for(dumu_simd_active());
}
