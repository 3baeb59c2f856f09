// Inner loops of the CPU convolution kernels compiled for AVX2 + FMA, chosen at run time.
//
// Swift cannot compile one function for a wider instruction set than its module (only
// -target-cpu for the whole module, which would make the binary fail on older CPUs), so these
// few register-blocked tiles are C functions carrying __attribute__((target("avx2,fma"))). The
// Swift kernels call them only after sbcl_cpu_has_avx2_fma() says the CPU and the OS support
// them; otherwise the portable Swift SIMD (SSE) tiles run. Everything around the tiles — weight
// packing, padding, threading, the choice of tile — stays in Swift (Engine/Kernels).
#ifndef SBCL_KERNELS_H
#define SBCL_KERNELS_H

#include <stddef.h>

/// 1 when the CPU has AVX2 and FMA and the OS saves the YMM registers, else 0.
int sbcl_cpu_has_avx2_fma(void);

/// A convolution tile of `pixels` output pixels × `lanes` output channels, overwritten:
///
///   outputs[p][j] = Σ_{t < taps} Σ_{k < channels} inputs[p][tap_offsets[t] + k] · weights[(t·channels + k)·16 + j]
///
/// with 1 ≤ pixels ≤ 6 and 1 ≤ lanes ≤ 16. Weight rows hold 16 floats (zeros beyond the real
/// output channels).
void sbcl_conv_tile_avx2(const float *const *inputs, int pixels, const ptrdiff_t *tap_offsets, int taps,
                         int channels, const float *weights, float *const *outputs, int lanes);

/// A weight-gradient tile of `channels` input channels × 16 output channels, added to `partial`:
///
///   partial[j·partial_stride + c] += Σ_{r < rows, q < columns} input[r·row_step + q·pixel_step + j] · gradient[(r·columns + q)·gradient_stride + c]
///
/// with 1 ≤ channels ≤ 6 and c < 16; every gradient row must have 16 readable floats.
void sbcl_conv_weight_tile_avx2(const float *input, ptrdiff_t row_step, ptrdiff_t pixel_step, int rows, int columns,
                                int channels, const float *gradient, ptrdiff_t gradient_stride,
                                float *partial, ptrdiff_t partial_stride);

#endif
