extension KernelSource {
    /// The network layers' kernels: convolution lowering (im2col / col2im around a GEMM: CLBlast's on
    /// OpenCL, cuBLAS's on CUDA), batch norm, the option-A shortcut, L2 normalisation and the SGD
    /// update. Same dialect and macros as `text`, which is compiled first.
    package static let layers = #"""
/* Convolution geometry, NHWC activations and OIHW weights (Conv2DGeometry). */
typedef struct {
    int batch, inputHeight, inputWidth, inputChannels, outputChannels;
    int kernelHeight, kernelWidth, strideHeight, strideWidth, paddingHeight, paddingWidth;
    int outputHeight, outputWidth;
} ConvGeometry;

/* col[r, q] for output pixel r = (n, oy, ox) and weight column q = (ci, ky, kx): the input pixel
   the kernel tap (ky, kx) sees, 0 in the padding; col · Wᵀ is then the convolution (an sgemm).
   One work item per (r, ci) writes that channel's kh·kw taps: neighbouring items read neighbouring
   channels of one pixel (coalesced in NHWC), and the index arithmetic is paid once per pixel and
   channel rather than once per element (it was half of a step's time on PoCL). */
KERNEL void sbcl_im2col(GLOBAL const float *x, GLOBAL float *col, const int total, const ConvGeometry g) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int ci = i % g.inputChannels, r = i / g.inputChannels;
    const int ox = r % g.outputWidth, oy = (r / g.outputWidth) % g.outputHeight, n = r / (g.outputWidth * g.outputHeight);
    const int taps = g.kernelHeight * g.kernelWidth;
    const int y0 = oy * g.strideHeight - g.paddingHeight, x0 = ox * g.strideWidth - g.paddingWidth;
    GLOBAL const float *image = x + (long)n * g.inputHeight * g.inputWidth * g.inputChannels + ci;
    GLOBAL float *out = col + ((long)r * g.inputChannels + ci) * taps;
    for (int ky = 0; ky < g.kernelHeight; ++ky) {
        const int iy = y0 + ky;
        for (int kx = 0; kx < g.kernelWidth; ++kx) {
            const int ix = x0 + kx;
            out[ky * g.kernelWidth + kx] = (iy >= 0 && iy < g.inputHeight && ix >= 0 && ix < g.inputWidth)
                ? image[((long)iy * g.inputWidth + ix) * g.inputChannels] : 0.0f;
        }
    }
}

/* The adjoint of im2col as a gather (no atomics): each input element sums the col entries of
   every (output pixel, tap) that read it. */
KERNEL void sbcl_col2im(GLOBAL const float *col, GLOBAL float *dx, const int total, const ConvGeometry g) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int ci = i % g.inputChannels, ix = (i / g.inputChannels) % g.inputWidth;
    const int iy = (i / (g.inputChannels * g.inputWidth)) % g.inputHeight;
    const int n = i / (g.inputChannels * g.inputWidth * g.inputHeight);
    const int taps = g.kernelHeight * g.kernelWidth, width = g.inputChannels * taps;
    float sum = 0.0f;
    for (int ky = 0; ky < g.kernelHeight; ++ky) {
        const int ty = iy + g.paddingHeight - ky;
        if (ty < 0 || ty % g.strideHeight != 0) continue;
        const int oy = ty / g.strideHeight;
        if (oy >= g.outputHeight) continue;
        for (int kx = 0; kx < g.kernelWidth; ++kx) {
            const int tx = ix + g.paddingWidth - kx;
            if (tx < 0 || tx % g.strideWidth != 0) continue;
            const int ox = tx / g.strideWidth;
            if (ox >= g.outputWidth) continue;
            const int r = (n * g.outputHeight + oy) * g.outputWidth + ox;
            sum += col[(long)r * width + ci * taps + ky * g.kernelWidth + kx];
        }
    }
    dx[i] = sum;
}

/* Batch norm's per-channel sums, in two launches so that every multiprocessor has work: the rows
   split into slices of `rowsPerSlice`, one work-group each (`sbcl_bn_partial_sums`), then one
   work-group per channel adds the slices' partial sums and finishes (`sbcl_bn_finish`).
   Within a slice, work item lid reads channel lid % channels of rows lane, lane + lanes, ...
   (lanes = width / channels): neighbouring items read neighbouring floats of a row, which is
   coalesced in NHWC; with more channels than items, each item walks channels lid, lid + width, ...
   Sums are Kahan-compensated per item; `partials` holds [slice][2][channels].
   mode 0: sum of x.  mode 1: sum of (x - mean)^2 around the saved mean (the two-pass variance).
   mode 2: sum of dz and of dz·xhat, dz the upstream gradient through the fused ReLU. */
#define SBCL_KAHAN_ADD(acc, carry, value)                                                \
    {                                                                                    \
        const float term = (value) - carry;                                              \
        const float next = acc + term;                                                   \
        carry = (next - acc) - term;                                                     \
        acc = next;                                                                      \
    }

/* The two terms of row r, channel c for `mode` (see above). */
#define SBCL_BN_TERMS(r)                                                                 \
    {                                                                                    \
        const float v = x[(long)(r) * channels + c];                                     \
        if (mode == 0) { t0 = v; t1 = 0.0f; }                                            \
        else if (mode == 1) { const float d = v - mu; t0 = d * d; t1 = 0.0f; }           \
        else {                                                                           \
            const float g = dy[(long)(r) * channels + c];                                \
            t0 = (relu && v * scale + offset <= 0.0f) ? 0.0f : g;                        \
            t1 = t0 * ((v - mu) * s);                                                    \
        }                                                                                \
    }

KERNEL void sbcl_bn_partial_sums(GLOBAL const float *x, GLOBAL const float *dy, const int rows, const int channels,
                                 const int rowsPerSlice, const int mode, GLOBAL const float *mean,
                                 GLOBAL const float *inverseStd, GLOBAL const float *gamma, GLOBAL const float *beta,
                                 const int relu, GLOBAL float *partials, LOCAL_FLOATS(partial)) {
    const int slice = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    const int first = slice * rowsPerSlice;
    const int last = first + rowsPerSlice < rows ? first + rowsPerSlice : rows;
    GLOBAL float *out = partials + (long)slice * 2 * channels;
    if (channels <= width) {
        const int lanes = width / channels, c = lid % channels, lane = lid / channels;
        float a0 = 0.0f, k0 = 0.0f, a1 = 0.0f, k1 = 0.0f;
        if (lane < lanes) {
            const float s = mode == 0 ? 0.0f : inverseStd[c], mu = mode == 0 ? 0.0f : mean[c];
            const float scale = mode == 2 ? gamma[c] * s : 0.0f, offset = mode == 2 ? beta[c] - mu * scale : 0.0f;
            for (int r = first + lane; r < last; r += lanes) {
                float t0, t1;
                SBCL_BN_TERMS(r);
                SBCL_KAHAN_ADD(a0, k0, t0);
                SBCL_KAHAN_ADD(a1, k1, t1);
            }
        }
        partial[lid] = a0;
        partial[width + lid] = a1;
        SYNC_LOCAL();
        if (lid < channels) {
            float s0 = 0.0f, s1 = 0.0f;
            for (int k = 0; k < lanes; ++k) { s0 += partial[k * channels + lid]; s1 += partial[width + k * channels + lid]; }
            out[lid] = s0;
            out[channels + lid] = s1;
        }
    } else {
        for (int c = lid; c < channels; c += width) {
            const float s = mode == 0 ? 0.0f : inverseStd[c], mu = mode == 0 ? 0.0f : mean[c];
            const float scale = mode == 2 ? gamma[c] * s : 0.0f, offset = mode == 2 ? beta[c] - mu * scale : 0.0f;
            float a0 = 0.0f, k0 = 0.0f, a1 = 0.0f, k1 = 0.0f;
            for (int r = first; r < last; ++r) {
                float t0, t1;
                SBCL_BN_TERMS(r);
                SBCL_KAHAN_ADD(a0, k0, t0);
                SBCL_KAHAN_ADD(a1, k1, t1);
            }
            out[c] = a0;
            out[channels + c] = a1;
        }
    }
}

/* One work-group per channel adds the slices' sums (its items stride over the slices, then
   combine in local memory; the group size is a power of two). mode 0: the batch mean into
   savedMean. mode 1: the biased variance around it, 1/sqrt(var + eps), and PyTorch's
   running-statistics update (unbiased variance). mode 2: dbeta = sum dz, dgamma = sum dz·xhat. */
KERNEL void sbcl_bn_finish(GLOBAL const float *partials, const int slices, const int channels, const int rows,
                           const int mode, GLOBAL float *runningMean, GLOBAL float *runningVariance, const float momentum,
                           const float epsilon, GLOBAL float *savedMean, GLOBAL float *savedInverseStd,
                           GLOBAL float *gammaGradient, GLOBAL float *betaGradient, LOCAL_FLOATS(partial)) {
    const int c = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    float a0 = 0.0f, k0 = 0.0f, a1 = 0.0f, k1 = 0.0f;
    for (int k = lid; k < slices; k += width) {
        SBCL_KAHAN_ADD(a0, k0, partials[(long)k * 2 * channels + c]);
        SBCL_KAHAN_ADD(a1, k1, partials[(long)k * 2 * channels + channels + c]);
    }
    partial[lid] = a0;
    partial[width + lid] = a1;
    SYNC_LOCAL();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lid < stride) {
            partial[lid] += partial[lid + stride];
            partial[width + lid] += partial[width + lid + stride];
        }
        SYNC_LOCAL();
    }
    if (lid != 0) return;
    const float s0 = partial[0], s1 = partial[width];
    if (mode == 0) {
        savedMean[c] = s0 / (float)rows;
    } else if (mode == 1) {
        const float mean = savedMean[c];
        const float variance = s0 / (float)rows;
        const float unbiased = rows > 1 ? variance * (float)rows / (float)(rows - 1) : variance;
        savedInverseStd[c] = 1.0f / sqrt(variance + epsilon);
        runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * mean;
        runningVariance[c] = (1.0f - momentum) * runningVariance[c] + momentum * unbiased;
    } else {
        betaGradient[c] = s0;
        gammaGradient[c] = s1;
    }
}

/* y = x·scale + offset per channel (scale = gamma·invstd, offset = beta − mean·scale, as the CPU
   kernel), then max(0, y) when relu. */
KERNEL void sbcl_bn_normalize(GLOBAL const float *x, const int total, const int channels, GLOBAL const float *mean,
                              GLOBAL const float *inverseStd, GLOBAL const float *gamma, GLOBAL const float *beta,
                              const int relu, GLOBAL float *y) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int c = i % channels;
    const float scale = gamma[c] * inverseStd[c];
    const float offset = beta[c] - mean[c] * scale;
    const float v = x[i] * scale + offset;
    y[i] = relu && v <= 0.0f ? 0.0f : v;
}

/* The upstream gradient through the fused ReLU: 0 where the normalised value was <= 0. */
#define SBCL_BN_DZ(r)                                                                            \
    ((relu && x[(long)(r) * channels + c] * scale + offset <= 0.0f) ? 0.0f : dy[(long)(r) * channels + c])

/* Batch-norm backward, input gradient: a·(dz − dbeta/M − xhat·dgamma/M) in training, a·dz in
   evaluation, with a = gamma·invstd. */
KERNEL void sbcl_bn_backward_input(GLOBAL const float *x, GLOBAL const float *dy, const int total, const int channels,
                                   const int rows, GLOBAL const float *mean, GLOBAL const float *inverseStd,
                                   GLOBAL const float *gamma, GLOBAL const float *beta, const int relu, const int training,
                                   GLOBAL const float *gammaGradient, GLOBAL const float *betaGradient, GLOBAL float *dx) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int c = i % channels, r = i / channels;
    const float s = inverseStd[c], mu = mean[c];
    const float scale = gamma[c] * s, offset = beta[c] - mu * scale;
    const float dz = SBCL_BN_DZ(r);
    if (training) {
        const float xhat = (x[i] - mu) * s;
        dx[i] = scale * (dz - betaGradient[c] / (float)rows - xhat * (gammaGradient[c] / (float)rows));
    } else {
        dx[i] = scale * dz;
    }
}

/* Weights between OIHW (the engine's) and OHWI (cuDNN's NHWC filters): one work item per element
   of the destination. */
KERNEL void sbcl_oihw_to_ohwi(GLOBAL const float *w, GLOBAL float *out, const int total, const int inputs, const int taps) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int ci = i % inputs, t = (i / inputs) % taps, o = i / (inputs * taps);
    out[i] = w[((long)o * inputs + ci) * taps + t];
}

KERNEL void sbcl_ohwi_to_oihw(GLOBAL const float *w, GLOBAL float *out, const int total, const int inputs, const int taps) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int t = i % taps, ci = (i / taps) % inputs, o = i / (inputs * taps);
    out[i] = w[((long)o * taps + t) * inputs + ci];
}

/* The ResNet option-A shortcut: out[n, i, j, p + c] = x[n, 2i, 2j, c], zero padding channels. */
KERNEL void sbcl_shortcut_forward(GLOBAL const float *x, GLOBAL float *y, const int total, const int height, const int width,
                                  const int channels, const int padding) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int oc = channels + 2 * padding, oh = (height + 1) / 2, ow = (width + 1) / 2;
    const int k = i % oc, ox = (i / oc) % ow, oy = (i / (oc * ow)) % oh, n = i / (oc * ow * oh);
    const int c = k - padding;
    y[i] = c >= 0 && c < channels ? x[((n * height + 2 * oy) * width + 2 * ox) * channels + c] : 0.0f;
}

KERNEL void sbcl_shortcut_backward(GLOBAL const float *dy, GLOBAL float *dx, const int total, const int height, const int width,
                                   const int channels, const int padding) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int oc = channels + 2 * padding, oh = (height + 1) / 2, ow = (width + 1) / 2;
    const int c = i % channels, ix = (i / channels) % width, iy = (i / (channels * width)) % height;
    const int n = i / (channels * width * height);
    dx[i] = (iy % 2 == 0 && ix % 2 == 0) ? dy[((n * oh + iy / 2) * ow + ix / 2) * oc + c + padding] : 0.0f;
}

/* Max pooling, NHWC: one work item per output element; idx gets the winner's pixel y·W + x in its
   image (the first maximum in row-major window order; a NaN wins), as MaxPool2D.forward. */
KERNEL void sbcl_maxpool_forward(GLOBAL const float *x, GLOBAL float *y, GLOBAL int *idx, const int total, const int height,
                                 const int width, const int channels, const int outHeight, const int outWidth,
                                 const int kernelSize, const int stride, const int padding) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int c = i % channels, ox = (i / channels) % outWidth, oy = (i / (channels * outWidth)) % outHeight;
    const int n = i / (channels * outWidth * outHeight);
    const int y0 = oy * stride - padding, x0 = ox * stride - padding;
    const int yLow = y0 > 0 ? y0 : 0, yHigh = y0 + kernelSize < height ? y0 + kernelSize : height;
    const int xLow = x0 > 0 ? x0 : 0, xHigh = x0 + kernelSize < width ? x0 + kernelSize : width;
    GLOBAL const float *image = x + (long)n * height * width * channels + c;
    int best = yLow * width + xLow;
    float value = image[(long)best * channels];
    for (int iy = yLow; iy < yHigh; ++iy) {
        for (int ix = xLow; ix < xHigh; ++ix) {
            const int pixel = iy * width + ix;
            const float v = image[(long)pixel * channels];
            if (v > value || isnan(v)) { value = v; best = pixel; }
        }
    }
    y[i] = value;
    idx[i] = best;
}

/* Its pullback without atomics: one work item per input element sums the gradients of the
   (at most ⌈k/s⌉²) windows holding it whose recorded winner it is. */
KERNEL void sbcl_maxpool_backward(GLOBAL const float *dy, GLOBAL const int *idx, GLOBAL float *dx, const int total,
                                  const int height, const int width, const int channels, const int outHeight,
                                  const int outWidth, const int kernelSize, const int stride, const int padding) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= total) return;
    const int c = i % channels, ix = (i / channels) % width, iy = (i / (channels * width)) % height;
    const int n = i / (channels * width * height);
    const int pixel = iy * width + ix;
    /* Windows oy with oy·s − p ≤ iy < oy·s − p + k. */
    const int oyFirst = (iy + padding - kernelSize + stride) / stride, oyLast = (iy + padding) / stride;
    const int oxFirst = (ix + padding - kernelSize + stride) / stride, oxLast = (ix + padding) / stride;
    const int oyLow = oyFirst > 0 ? oyFirst : 0, oyHigh = oyLast < outHeight - 1 ? oyLast : outHeight - 1;
    const int oxLow = oxFirst > 0 ? oxFirst : 0, oxHigh = oxLast < outWidth - 1 ? oxLast : outWidth - 1;
    float acc = 0.0f;
    for (int oy = oyLow; oy <= oyHigh; ++oy) {
        for (int ox = oxLow; ox <= oxHigh; ++ox) {
            const long o = (((long)n * outHeight + oy) * outWidth + ox) * channels + c;
            if (idx[o] == pixel) acc += dy[o];
        }
    }
    dx[i] = acc;
}

/* L2 normalisation of rows: one work-group per row. norms[row] = max(|x|, eps). */
KERNEL void sbcl_l2_forward(GLOBAL const float *x, GLOBAL float *y, GLOBAL float *norms, const int cols, const float epsilon,
                            LOCAL_FLOATS(partial)) {
    const int row = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    GLOBAL const float *xr = x + (long)row * cols;
    float acc = 0.0f;
    for (int j = lid; j < cols; j += width) acc += xr[j] * xr[j];
    partial[lid] = acc;
    SYNC_LOCAL();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        SYNC_LOCAL();
    }
    const float norm = fmax(sqrt(partial[0]), epsilon);
    for (int j = lid; j < cols; j += width) y[(long)row * cols + j] = xr[j] / norm;
    if (lid == 0) norms[row] = norm;
}

/* Its pullback: (g − y·<g, y>) / norm, or g / norm where the norm was clipped to eps. */
KERNEL void sbcl_l2_backward(GLOBAL const float *g, GLOBAL const float *y, GLOBAL const float *norms, GLOBAL float *dx,
                             const int cols, const float epsilon, LOCAL_FLOATS(partial)) {
    const int row = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    GLOBAL const float *gr = g + (long)row * cols, *yr = y + (long)row * cols;
    float acc = 0.0f;
    for (int j = lid; j < cols; j += width) acc += gr[j] * yr[j];
    partial[lid] = acc;
    SYNC_LOCAL();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] += partial[lid + stride];
        SYNC_LOCAL();
    }
    const float norm = norms[row];
    const float dot = norm <= epsilon ? 0.0f : partial[0];
    for (int j = lid; j < cols; j += width) dx[(long)row * cols + j] = (gr[j] - yr[j] * dot) / norm;
}

/* SGD with momentum, weight decay, dampening and Nesterov, PyTorch's formulation (as SGD.step). */
KERNEL void sbcl_sgd(GLOBAL float *p, GLOBAL const float *g, GLOBAL float *buffer, const int n, const float rate,
                     const float momentum, const float weightDecay, const float dampening, const int nesterov,
                     const int firstStep) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= n) return;
    float d = g[i] + weightDecay * p[i];
    if (momentum != 0.0f) {
        const float b = firstStep ? d : momentum * buffer[i] + (1.0f - dampening) * d;
        buffer[i] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[i] -= rate * d;
}
"""#
}
