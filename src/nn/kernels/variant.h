/* variant.h - naming for the per-instruction-set builds of src/nn/kernels/ files.
 *
 * CMake compiles each kernel file three times: with the AVX-512 flags, with the AVX2 + FMA
 * flags, and with none. The compiler's own target macros pick the code paths inside the file,
 * and DUMU_VARIANT(name) gives its exported table a name of the matching build, e.g.
 * dumu_gemm_kernels_avx512. Nothing else in a kernel file has external linkage. */
#ifndef DUMU_NN_KERNELS_VARIANT_H
#define DUMU_NN_KERNELS_VARIANT_H

#include "nn/simd.h"

#define DUMU_VARIANT_CAT_(a, b) a##_##b
#define DUMU_VARIANT_CAT(a, b)  DUMU_VARIANT_CAT_(a, b)

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__) && defined(__FMA__)
#    define DUMU_VARIANT_ISA avx512
#elif defined(__AVX2__) && defined(__FMA__)
#    define DUMU_VARIANT_ISA avx2
#else
#    define DUMU_VARIANT_ISA scalar
#endif

#define DUMU_VARIANT(name) DUMU_VARIANT_CAT(name, DUMU_VARIANT_ISA)

extern const dumu_gemm_kernels dumu_gemm_kernels_avx512, dumu_gemm_kernels_avx2,
    dumu_gemm_kernels_scalar;
extern const dumu_bp_kernels dumu_bp_kernels_avx512, dumu_bp_kernels_avx2, dumu_bp_kernels_scalar;
extern const dumu_dm_kernels dumu_dm_kernels_avx512, dumu_dm_kernels_avx2, dumu_dm_kernels_scalar;

#endif /* DUMU_NN_KERNELS_VARIANT_H */
