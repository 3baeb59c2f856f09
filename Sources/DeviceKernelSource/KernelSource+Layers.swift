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

/* Kahan-compensated partial sums of one channel over `rows` rows, combined in local memory. */
#define SBCL_CHANNEL_SUM(expr, result)                                                   \
    {                                                                                    \
        float acc = 0.0f, carry = 0.0f;                                                  \
        for (int r = lid; r < rows; r += width) {                                        \
            const float term = (expr) - carry;                                           \
            const float next = acc + term;                                               \
            carry = (next - acc) - term;                                                 \
            acc = next;                                                                  \
        }                                                                                \
        partial[lid] = acc;                                                              \
        SYNC_LOCAL();                                                                    \
        for (int stride = width / 2; stride > 0; stride /= 2) {                          \
            if (lid < stride) partial[lid] += partial[lid + stride];                     \
            SYNC_LOCAL();                                                                \
        }                                                                                \
        result = partial[0];                                                             \
        SYNC_LOCAL();                                                                    \
    }

/* Training batch norm, statistics: one work-group per channel. The batch mean, the biased
   variance around it, 1/sqrt(var + eps), and PyTorch's running-statistics update (unbiased). */
KERNEL void sbcl_bn_statistics(GLOBAL const float *x, const int rows, const int channels,
                               GLOBAL float *runningMean, GLOBAL float *runningVariance, const float momentum,
                               const float epsilon, GLOBAL float *savedMean, GLOBAL float *savedInverseStd,
                               LOCAL_FLOATS(partial)) {
    const int c = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    float total, squares;
    SBCL_CHANNEL_SUM(x[(long)r * channels + c], total);
    const float mean = total / (float)rows;
    SBCL_CHANNEL_SUM((x[(long)r * channels + c] - mean) * (x[(long)r * channels + c] - mean), squares);
    if (lid == 0) {
        const float variance = squares / (float)rows;
        const float unbiased = rows > 1 ? variance * (float)rows / (float)(rows - 1) : variance;
        savedMean[c] = mean;
        savedInverseStd[c] = 1.0f / sqrt(variance + epsilon);
        runningMean[c] = (1.0f - momentum) * runningMean[c] + momentum * mean;
        runningVariance[c] = (1.0f - momentum) * runningVariance[c] + momentum * unbiased;
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

/* Batch-norm backward, per-channel sums: dbeta = sum dz, dgamma = sum dz·xhat. */
KERNEL void sbcl_bn_backward_sums(GLOBAL const float *x, GLOBAL const float *dy, const int rows, const int channels,
                                  GLOBAL const float *mean, GLOBAL const float *inverseStd, GLOBAL const float *gamma,
                                  GLOBAL const float *beta, const int relu, GLOBAL float *gammaGradient,
                                  GLOBAL float *betaGradient, LOCAL_FLOATS(partial)) {
    const int c = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    const float s = inverseStd[c], mu = mean[c];
    const float scale = gamma[c] * s, offset = beta[c] - mu * scale;
    float sumDz, sumDzXhat;
    SBCL_CHANNEL_SUM(SBCL_BN_DZ(r), sumDz);
    SBCL_CHANNEL_SUM(SBCL_BN_DZ(r) * ((x[(long)r * channels + c] - mu) * s), sumDzXhat);
    if (lid == 0) { betaGradient[c] = sumDz; gammaGradient[c] = sumDzXhat; }
}

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
