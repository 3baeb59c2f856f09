#include "sbcl_kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

int sbcl_cpu_has_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27;
    if ((c & fma) == 0 || (c & osxsave) == 0) return 0;
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    // XMM, YMM, opmask, ZMM0-15 upper halves and ZMM16-31 saved by the OS (bits 1, 2, 5, 6, 7).
    if ((xcr0_lo & 0xE6u) != 0xE6u) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) != 0;  // AVX-512 Foundation
}

#define AVX512 __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

// P pixels × V vectors of 16 output channels: P·V accumulators, V weight vectors and one broadcast
// of the 32 zmm registers. P and V are constants at every call site, so the arrays live in
// registers. Only V = 1 is instantiated: 12 pixels × 32 channels (V = 2, 24 accumulators) measured
// at half the speed of 12 × 16 on Zen 5 (sbcl-bench conv, docs/performance.md), in the direct
// kernels and in Winograd's products alike.
INLINE AVX512 void conv_tile(const int P, const int V, const float *const *inputs, const ptrdiff_t *tap_offsets,
                             int taps, int channels, const float *weights, float *const *outputs, int lanes) {
    __m512 acc[12][1];
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) acc[p][v] = _mm512_setzero_ps();
    const float *w = weights;
    for (int t = 0; t < taps; t++) {
        const ptrdiff_t offset = tap_offsets[t];
        const float *in[12];
        for (int p = 0; p < P; p++) in[p] = inputs[p] + offset;
        for (int k = 0; k < channels; k++) {
            __m512 wv[1];
            for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
            for (int p = 0; p < P; p++) {
                const __m512 x = _mm512_set1_ps(in[p][k]);
                for (int v = 0; v < V; v++) acc[p][v] = _mm512_fmadd_ps(x, wv[v], acc[p][v]);
            }
            w += 16 * V;
        }
    }
    for (int v = 0; v < V; v++) {
        const int n = lanes - 16 * v;
        if (n <= 0) break;
        const __mmask16 mask = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
        for (int p = 0; p < P; p++) _mm512_mask_storeu_ps(outputs[p] + 16 * v, mask, acc[p][v]);
    }
}

#define TILE_CASES(V)                                                                          \
    switch (pixels) {                                                                          \
    case 12: conv_tile(12, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return; \
    case 11: conv_tile(11, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return; \
    case 10: conv_tile(10, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return; \
    case 9: conv_tile(9, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 8: conv_tile(8, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 7: conv_tile(7, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 6: conv_tile(6, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 5: conv_tile(5, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 4: conv_tile(4, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 3: conv_tile(3, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    case 2: conv_tile(2, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;   \
    default: conv_tile(1, V, inputs, tap_offsets, taps, channels, weights, outputs, lanes); return;  \
    }

AVX512 void sbcl_conv_tile_avx512(const float *const *inputs, int pixels, const ptrdiff_t *tap_offsets, int taps,
                                  int channels, const float *weights, int width, float *const *outputs, int lanes) {
    (void)width;  // 16: see conv_tile
    TILE_CASES(1)
}
#undef TILE_CASES

// C input channels × V vectors of 16 output channels, summed over a rows × columns pixel grid.
INLINE AVX512 void weight_tile(const int C, const int V, const float *input, ptrdiff_t row_step, ptrdiff_t pixel_step,
                               int rows, int columns, const float *gradient, ptrdiff_t gradient_stride,
                               float *partial, ptrdiff_t partial_stride) {
    __m512 acc[12][1];
    for (int j = 0; j < C; j++)
        for (int v = 0; v < V; v++) acc[j][v] = _mm512_setzero_ps();
    const float *g = gradient;
    for (int r = 0; r < rows; r++) {
        const float *x = input + r * row_step;
        for (int q = 0; q < columns; q++) {
            __m512 gv[1];
            for (int v = 0; v < V; v++) gv[v] = _mm512_loadu_ps(g + 16 * v);
            for (int j = 0; j < C; j++) {
                const __m512 b = _mm512_set1_ps(x[j]);
                for (int v = 0; v < V; v++) acc[j][v] = _mm512_fmadd_ps(b, gv[v], acc[j][v]);
            }
            x += pixel_step;
            g += gradient_stride;
        }
    }
    for (int j = 0; j < C; j++)
        for (int v = 0; v < V; v++) {
            float *p = partial + j * partial_stride + 16 * v;
            _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), acc[j][v]));
        }
}

#define WEIGHT_CASES(V)                                                                                      \
    switch (channels) {                                                                                      \
    case 12: weight_tile(12, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return; \
    case 11: weight_tile(11, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return; \
    case 10: weight_tile(10, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return; \
    case 9: weight_tile(9, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 8: weight_tile(8, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 7: weight_tile(7, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 6: weight_tile(6, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 5: weight_tile(5, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 4: weight_tile(4, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 3: weight_tile(3, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    case 2: weight_tile(2, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;   \
    default: weight_tile(1, V, input, row_step, pixel_step, rows, columns, gradient, gradient_stride, partial, partial_stride); return;  \
    }

AVX512 void sbcl_conv_weight_tile_avx512(const float *input, ptrdiff_t row_step, ptrdiff_t pixel_step, int rows,
                                         int columns, int channels, const float *gradient, ptrdiff_t gradient_stride,
                                         int width, float *partial, ptrdiff_t partial_stride) {
    (void)width;  // 16: see conv_tile
    WEIGHT_CASES(1)
}
#undef WEIGHT_CASES

#else  // not x86: the Swift kernels always run.

int sbcl_cpu_has_avx512(void) { return 0; }

void sbcl_conv_tile_avx512(const float *const *inputs, int pixels, const ptrdiff_t *tap_offsets, int taps,
                           int channels, const float *weights, int width, float *const *outputs, int lanes) {
    (void)inputs; (void)pixels; (void)tap_offsets; (void)taps; (void)channels; (void)weights; (void)width;
    (void)outputs; (void)lanes;
    __builtin_trap();
}

void sbcl_conv_weight_tile_avx512(const float *input, ptrdiff_t row_step, ptrdiff_t pixel_step, int rows,
                                  int columns, int channels, const float *gradient, ptrdiff_t gradient_stride,
                                  int width, float *partial, ptrdiff_t partial_stride) {
    (void)input; (void)row_step; (void)pixel_step; (void)rows; (void)columns; (void)channels; (void)gradient;
    (void)gradient_stride; (void)width; (void)partial; (void)partial_stride;
    __builtin_trap();
}

#endif
