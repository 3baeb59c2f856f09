// Winograd F(2×2, 3×3) convolutions (Lavin & Gray, 2016) on the AVX2 and AVX-512 tiles.
//
// A 2×2 block of outputs of a 3×3, stride-1 correlation is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, where d is the
// 4×4 input patch and g the 3×3 kernel: 16 multiplies per reduced channel instead of 36. Over
// channels the ⊙ becomes 16 independent matrix products, V[ξ] (tiles × C_in) · U[ξ] (C_in × C_out),
// which run on the same register tiles as the direct convolution (one tap, C_in reduced channels).
// The weight gradient is the adjoint: dU[ξ] = V[ξ]ᵀ · (A dY Aᵀ)[ξ], summed over tiles, then
// dg = Gᵀ dU G (in Swift, once per call).
//
// Tiles are processed in blocks of `block_tiles` (which may span images) so that the transformed
// inputs V and the products M of a block stay in L2 between the transforms and the products.
#include "sbcl_kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX512 __attribute__((target("avx512f,fma")))

// The products' register tiles, inlined into the drivers: rows p < P of c (ldc apart) get
// Σ_k a[p·lda + k] · w[k·16 + j] for j < 16, overwritten. Rows of a are contiguous here, so the
// pointer tables and the call of the direct kernels' tiles (a quarter of a 16-channel product's
// time) are not needed.
INLINE TARGET_AVX512 void gemm_tile_AVX512(const int P, const float *a, ptrdiff_t lda, int K, const float *w, float *c,
                                           ptrdiff_t ldc) {
    __m512 acc[12];
    for (int p = 0; p < P; p++) acc[p] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m512 wv = _mm512_loadu_ps(w + 16 * k);
        for (int p = 0; p < P; p++) acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(a[p * lda + k]), wv, acc[p]);
    }
    for (int p = 0; p < P; p++) _mm512_storeu_ps(c + p * ldc, acc[p]);
}

INLINE TARGET_AVX2 void gemm_tile_AVX2(const int P, const float *a, ptrdiff_t lda, int K, const float *w, float *c,
                                       ptrdiff_t ldc) {
    __m256 acc[6][2];
    for (int p = 0; p < P; p++) acc[p][0] = acc[p][1] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        const __m256 w0 = _mm256_loadu_ps(w + 16 * k), w1 = _mm256_loadu_ps(w + 16 * k + 8);
        for (int p = 0; p < P; p++) {
            const __m256 x = _mm256_broadcast_ss(a + p * lda + k);
            acc[p][0] = _mm256_fmadd_ps(x, w0, acc[p][0]);
            acc[p][1] = _mm256_fmadd_ps(x, w1, acc[p][1]);
        }
    }
    for (int p = 0; p < P; p++) {
        _mm256_storeu_ps(c + p * ldc, acc[p][0]);
        _mm256_storeu_ps(c + p * ldc + 8, acc[p][1]);
    }
}

// All rows of a product: nt rows in tiles of R, then one tile of the remaining rows (fewer than R;
// the `% R` keeps the cases a narrower ISA never reaches within its accumulator array).
#define GEMM_ROWS(ISA, R)                                                                                   \
    INLINE TARGET_##ISA void gemm_rows_##ISA(int nt, const float *a, ptrdiff_t lda, int K, const float *w, \
                                            float *c, ptrdiff_t ldc) {                                      \
        int t = 0;                                                                                          \
        for (; t + R <= nt; t += R) gemm_tile_##ISA(R, a + t * lda, lda, K, w, c + t * ldc, ldc);           \
        switch (nt - t) {                                                                                   \
        case 11: gemm_tile_##ISA(11 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                   \
        case 10: gemm_tile_##ISA(10 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                   \
        case 9: gemm_tile_##ISA(9 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                     \
        case 8: gemm_tile_##ISA(8 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                     \
        case 7: gemm_tile_##ISA(7 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                     \
        case 6: gemm_tile_##ISA(6 % R, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                     \
        case 5: gemm_tile_##ISA(5, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                         \
        case 4: gemm_tile_##ISA(4, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                         \
        case 3: gemm_tile_##ISA(3, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                         \
        case 2: gemm_tile_##ISA(2, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                         \
        case 1: gemm_tile_##ISA(1, a + t * lda, lda, K, w, c + t * ldc, ldc); break;                         \
        default: break;                                                                                     \
        }                                                                                                   \
    }
GEMM_ROWS(AVX512, 12)
GEMM_ROWS(AVX2, 6)

// Bᵀ d B for one 4×4 patch, C channels (pixels `column` floats apart, rows `row` apart), written
// to v[ξ·vstride + c].
INLINE void input_transform(const float *restrict patch, ptrdiff_t row, ptrdiff_t column, int C,
                            float *restrict v, ptrdiff_t vstride) {
    for (int c = 0; c < C; c++) {
        float d[4][4], t[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) d[i][j] = patch[i * row + j * column + c];
        for (int j = 0; j < 4; j++) {
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
        }
        for (int i = 0; i < 4; i++) {
            v[(4 * i + 0) * vstride + c] = t[i][0] - t[i][2];
            v[(4 * i + 1) * vstride + c] = t[i][1] + t[i][2];
            v[(4 * i + 2) * vstride + c] = t[i][2] - t[i][1];
            v[(4 * i + 3) * vstride + c] = t[i][1] - t[i][3];
        }
    }
}

// Aᵀ m A for one tile: m[ξ·mstride + o] → the four outputs y[0..3] (row-major 2×2), C channels.
INLINE void output_transform(const float *restrict m, ptrdiff_t mstride, int C, float *restrict y0,
                             float *restrict y1, float *restrict y2, float *restrict y3) {
    for (int o = 0; o < C; o++) {
        float s[2][4];
        for (int j = 0; j < 4; j++) {
            const float m0 = m[(0 + j) * mstride + o], m1 = m[(4 + j) * mstride + o];
            const float m2 = m[(8 + j) * mstride + o], m3 = m[(12 + j) * mstride + o];
            s[0][j] = m0 + m1 + m2;
            s[1][j] = m1 - m2 - m3;
        }
        y0[o] = s[0][0] + s[0][1] + s[0][2];
        y1[o] = s[0][1] - s[0][2] - s[0][3];
        y2[o] = s[1][0] + s[1][1] + s[1][2];
        y3[o] = s[1][1] - s[1][2] - s[1][3];
    }
}

// A g Aᵀ for one 2×2 block of output gradients g0..g3 (row-major) → m[ξ·mstride + o], C channels.
INLINE void gradient_transform(const float *restrict g0, const float *restrict g1, const float *restrict g2,
                               const float *restrict g3, int C, float *restrict m, ptrdiff_t mstride) {
    for (int o = 0; o < C; o++) {
        const float g[2][2] = {{g0[o], g1[o]}, {g2[o], g3[o]}};
        float r[4][2];
        for (int b = 0; b < 2; b++) {
            r[0][b] = g[0][b];
            r[1][b] = g[0][b] + g[1][b];
            r[2][b] = g[0][b] - g[1][b];
            r[3][b] = -g[1][b];
        }
        for (int i = 0; i < 4; i++) {
            m[(4 * i + 0) * mstride + o] = r[i][0];
            m[(4 * i + 1) * mstride + o] = r[i][0] + r[i][1];
            m[(4 * i + 2) * mstride + o] = r[i][0] - r[i][1];
            m[(4 * i + 3) * mstride + o] = -r[i][1];
        }
    }
}

// Tile index q of a block → image, tile row and column.
INLINE void locate(int q, int tiles_h, int tiles_w, int *image, int *ty, int *tx) {
    const int per_image = tiles_h * tiles_w;
    *image = q / per_image;
    const int r = q - *image * per_image;
    *ty = r / tiles_w;
    *tx = r - *ty * tiles_w;
}

// The transforms of the whole block: input patches → V [16][nt][C], from zero-padded images.
// (Tried: reading patches in place from the unpadded image and gathering only those that cross
// the border — at 8×8, 12 of 16 tiles do. It was not faster than the padded copy over ResNet-32
// inference in one noisy A/B, so the simpler padded copy stayed.)
INLINE void transform_block_inputs(const float *input, ptrdiff_t image_stride, ptrdiff_t row, int C, int tiles_h,
                                   int tiles_w, int first, int nt, float *v) {
    for (int t = 0; t < nt; t++) {
        int n, ty, tx;
        locate(first + t, tiles_h, tiles_w, &n, &ty, &tx);
        const float *patch = input + n * image_stride + (2 * ty) * row + (2 * tx) * C;
        input_transform(patch, row, C, C, v + t * C, (ptrdiff_t)nt * C);
    }
}

// The forward driver, with ROWS(rows, a, lda, K, w, c, ldc) computing a product's rows
// (output blocks of W = 16 channels, the only width the tiles take).
#define WINOGRAD_FORWARD(NAME, TARGET, ROWS)                                                              \
    TARGET void NAME(const sbcl_winograd_job *job) {                                                         \
        const int C = job->channels, O = job->outputs, W = job->width;                                       \
        const int blocks = (O + W - 1) / W, Opad = blocks * W;                                               \
        const int total = job->images * job->tiles_h * job->tiles_w;                                         \
        float *v = job->scratch, *m = v + 16 * (ptrdiff_t)job->block_tiles * C;                              \
        float *sink = m + 16 * (ptrdiff_t)job->block_tiles * Opad;                                           \
        for (int first = 0; first < total; first += job->block_tiles) {                                      \
            const int nt = total - first < job->block_tiles ? total - first : job->block_tiles;              \
            transform_block_inputs(job->input, job->input_image_stride, job->input_row, C, job->tiles_h,     \
                                   job->tiles_w, first, nt, v);                                              \
            for (int xi = 0; xi < 16; xi++) {                                                                \
                const float *a = v + (ptrdiff_t)xi * nt * C;                                                 \
                float *mx = m + (ptrdiff_t)xi * nt * Opad;                                                   \
                for (int b = 0; b < blocks; b++) {                                                           \
                    const float *u = job->weights + ((ptrdiff_t)xi * blocks + b) * C * W;                    \
                    ROWS(nt, a, C, C, u, mx + b * W, Opad);                                                  \
                }                                                                                            \
            }                                                                                                \
            for (int t = 0; t < nt; t++) {                                                                   \
                int n, ty, tx;                                                                               \
                locate(first + t, job->tiles_h, job->tiles_w, &n, &ty, &tx);                                 \
                float *image = job->output + n * job->output_image_stride;                                   \
                float *y[4];                                                                                 \
                for (int k = 0; k < 4; k++) {                                                                \
                    const int oy = 2 * ty + k / 2, ox = 2 * tx + k % 2;                                      \
                    y[k] = oy < job->out_h && ox < job->out_w ? image + ((ptrdiff_t)oy * job->out_w + ox) * O \
                                                              : sink;                                        \
                }                                                                                            \
                output_transform(m + (ptrdiff_t)t * Opad, (ptrdiff_t)nt * Opad, O, y[0], y[1], y[2], y[3]);   \
            }                                                                                                \
        }                                                                                                    \
    }

// The weight-gradient driver: dU[ξ][c][o] += Σ_tiles V[ξ][t][c] · (A dY Aᵀ)[ξ][t][o], with a weight
// tile WTILE(input, pixel_step, columns, channels, gradient, gradient_stride, width, partial,
// partial_stride) of at most RC reduced channels.
#define WINOGRAD_WEIGHT(NAME, TARGET, RC, WTILE)                                                             \
    TARGET void NAME(const sbcl_winograd_weight_job *job) {                                                  \
        const int C = job->channels, O = job->outputs, W = job->width;                                       \
        const int blocks = (O + W - 1) / W, Opad = blocks * W;                                               \
        const int total = job->images * job->tiles_h * job->tiles_w;                                         \
        float *v = job->scratch, *m = v + 16 * (ptrdiff_t)job->block_tiles * C;                              \
        float *zeros = m + 16 * (ptrdiff_t)job->block_tiles * Opad;                                          \
        for (int o = 0; o < O; o++) zeros[o] = 0;                                                            \
        for (int first = 0; first < total; first += job->block_tiles) {                                     \
            const int nt = total - first < job->block_tiles ? total - first : job->block_tiles;              \
            transform_block_inputs(job->input, job->input_image_stride, job->input_row, C, job->tiles_h,     \
                                   job->tiles_w, first, nt, v);                                              \
            for (int t = 0; t < nt; t++) {                                                                   \
                int n, ty, tx;                                                                               \
                locate(first + t, job->tiles_h, job->tiles_w, &n, &ty, &tx);                                 \
                const float *image = job->gradient + n * job->gradient_image_stride;                         \
                const float *g[4];                                                                           \
                for (int k = 0; k < 4; k++) {                                                                \
                    const int oy = 2 * ty + k / 2, ox = 2 * tx + k % 2;                                      \
                    g[k] = oy < job->out_h && ox < job->out_w ? image + ((ptrdiff_t)oy * job->out_w + ox) * O \
                                                              : zeros;                                       \
                }                                                                                            \
                gradient_transform(g[0], g[1], g[2], g[3], O, m + (ptrdiff_t)t * Opad, (ptrdiff_t)nt * Opad); \
                for (int o = O; o < Opad; o++)                                                               \
                    for (int xi = 0; xi < 16; xi++) m[((ptrdiff_t)xi * nt + t) * Opad + o] = 0;             \
            }                                                                                                \
            for (int xi = 0; xi < 16; xi++) {                                                                \
                const float *a = v + (ptrdiff_t)xi * nt * C;                                                 \
                const float *mx = m + (ptrdiff_t)xi * nt * Opad;                                             \
                float *du = job->partial + (ptrdiff_t)xi * C * Opad;                                         \
                for (int c = 0; c < C; c += RC) {                                                            \
                    const int count = C - c < RC ? C - c : RC;                                               \
                    for (int b = 0; b < blocks; b++)                                                         \
                        WTILE(a + c, C, nt, count, mx + b * W, Opad, W, du + (ptrdiff_t)c * Opad + b * W, Opad); \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }

#define AVX2_WTILE(input, step, columns, count, gradient, gstride, W, partial, pstride) \
    sbcl_conv_weight_tile_avx2(input, 0, step, 1, columns, count, gradient, gstride, partial, pstride)
#define AVX512_WTILE(input, step, columns, count, gradient, gstride, W, partial, pstride) \
    sbcl_conv_weight_tile_avx512(input, 0, step, 1, columns, count, gradient, gstride, W, partial, pstride)

WINOGRAD_FORWARD(sbcl_winograd_forward_avx2, TARGET_AVX2, gemm_rows_AVX2)
WINOGRAD_FORWARD(sbcl_winograd_forward_avx512, TARGET_AVX512, gemm_rows_AVX512)
WINOGRAD_WEIGHT(sbcl_winograd_weight_avx2, TARGET_AVX2, 6, AVX2_WTILE)
WINOGRAD_WEIGHT(sbcl_winograd_weight_avx512, TARGET_AVX512, 12, AVX512_WTILE)

#else  // not x86: the direct Swift kernels always run.

void sbcl_winograd_forward_avx2(const sbcl_winograd_job *job) { (void)job; __builtin_trap(); }
void sbcl_winograd_forward_avx512(const sbcl_winograd_job *job) { (void)job; __builtin_trap(); }
void sbcl_winograd_weight_avx2(const sbcl_winograd_weight_job *job) { (void)job; __builtin_trap(); }
void sbcl_winograd_weight_avx512(const sbcl_winograd_weight_job *job) { (void)job; __builtin_trap(); }

#endif
