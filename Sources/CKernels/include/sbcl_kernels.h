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

/// 1 when the CPU has AVX-512 Foundation and FMA and the OS saves the ZMM and opmask registers, else 0.
int sbcl_cpu_has_avx512(void);

/// `sbcl_conv_tile_avx2` on 16-float vectors: `pixels` ≤ 12 output pixels × `lanes` ≤ `width`
/// output channels, with weight rows of `width` floats (16: the only width implemented).
void sbcl_conv_tile_avx512(const float *const *inputs, int pixels, const ptrdiff_t *tap_offsets, int taps,
                           int channels, const float *weights, int width, float *const *outputs, int lanes);

/// `sbcl_conv_weight_tile_avx2` on 16-float vectors: `channels` ≤ 12 input channels × `width`
/// (16) output channels; every gradient row must have `width` readable floats.
void sbcl_conv_weight_tile_avx512(const float *input, ptrdiff_t row_step, ptrdiff_t pixel_step, int rows,
                                  int columns, int channels, const float *gradient, ptrdiff_t gradient_stride,
                                  int width, float *partial, ptrdiff_t partial_stride);

/// One Winograd F(2×2, 3×3) forward call over `images` zero-padded NHWC images (see winograd.c).
///
/// Tile (ty, tx) of image n reads the 4×4 patch at `input + n·input_image_stride + 2ty·input_row +
/// 2tx·channels` and writes the outputs (2ty + a, 2tx + b) that lie inside `out_h × out_w` to
/// `output + n·output_image_stride` (NHWC, `outputs` channels). `weights` holds G g Gᵀ packed as
/// `[16][output block][channels][width]`; `scratch` has 16·block_tiles·(channels + padded outputs)
/// + padded outputs floats.
typedef struct {
    const float *input;
    ptrdiff_t input_image_stride, input_row;
    int images, channels, tiles_h, tiles_w;
    const float *weights;
    int outputs, width;
    float *output;
    ptrdiff_t output_image_stride;
    int out_h, out_w;
    float *scratch;
    int block_tiles;
} sbcl_winograd_job;

/// One Winograd weight-gradient call: adds V[ξ]ᵀ·(A dY Aᵀ)[ξ] over every tile of `images` images to
/// `partial` (`[16][channels][padded outputs]`); inputs as `sbcl_winograd_job`, output gradients
/// NHWC at `gradient + n·gradient_image_stride` (zero outside `out_h × out_w`).
typedef struct {
    const float *input;
    ptrdiff_t input_image_stride, input_row;
    int images, channels, tiles_h, tiles_w;
    const float *gradient;
    ptrdiff_t gradient_image_stride;
    int out_h, out_w, outputs, width;
    float *partial;
    float *scratch;
    int block_tiles;
} sbcl_winograd_weight_job;

/// `iterations` rounds of 12 independent multiply-adds on the widest vectors of an instruction set,
/// in registers only; returns the floating-point operations done (time the call to get a core's
/// peak). The avx512 and avx2 loops need the CPU checks above; the SSE loop runs everywhere (x86).
double sbcl_fma_loop_avx512(long iterations);
double sbcl_fma_loop_avx2(long iterations);
double sbcl_fma_loop_sse(long iterations);

void sbcl_winograd_forward_avx2(const sbcl_winograd_job *job);
void sbcl_winograd_forward_avx512(const sbcl_winograd_job *job);
void sbcl_winograd_weight_avx2(const sbcl_winograd_weight_job *job);
void sbcl_winograd_weight_avx512(const sbcl_winograd_weight_job *job);

#endif
