// A register-only multiply-add loop per instruction set: what one core can do at its current
// clock, which on a VM's /proc/cpuinfo (nominal MHz, no boost) is not known otherwise. sbcl-bench
// reports GFLOP/s against this measured peak.
#include "sbcl_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

// 12 independent accumulators hide the FMA latency (4 cycles × 2 pipes = 8 needed).
#define CHAINS 12

__attribute__((target("avx512f,fma"))) double sbcl_fma_loop_avx512(long iterations) {
    __m512 acc[CHAINS];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)iterations * CHAINS * 16 * 2;
}

__attribute__((target("avx2,fma"))) double sbcl_fma_loop_avx2(long iterations) {
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * CHAINS * 8 * 2;
}

// The portable tiles' instructions: SSE multiplies and adds, no FMA.
double sbcl_fma_loop_sse(long iterations) {
    __m128 acc[CHAINS];
    const __m128 a = _mm_set1_ps(0.999999f), b = _mm_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm_set1_ps((float)i);
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
    __m128 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm_add_ps(sum, acc[i]);
    float lanes[4];
    _mm_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * CHAINS * 4 * 2;
}

#else

double sbcl_fma_loop_avx512(long iterations) { (void)iterations; __builtin_trap(); }
double sbcl_fma_loop_avx2(long iterations) { (void)iterations; __builtin_trap(); }
double sbcl_fma_loop_sse(long iterations) { (void)iterations; return 0; }

#endif
