extension KernelSource {
    /// Row-wise and layout kernels: softmax and log-softmax with their pullbacks, cross-entropy
    /// terms, the maximum along an axis, and block copies for concat and slice. Same dialect and
    /// macros as `text`.
    package static let rows = #"""
/* One work-group per row: a reduction of `value(j)` with `op` (0 sum, 1 max) over the row's
   columns into `result`, all threads seeing it. */
#define SBCL_ROW_REDUCE(value, op, result)                                               \
    {                                                                                    \
        float acc = (op) ? -INFINITY : 0.0f;                                             \
        for (int j = lid; j < cols; j += width) {                                        \
            const float v = (value);                                                     \
            acc = (op) ? fmax(acc, v) : acc + v;                                         \
        }                                                                                \
        partial[lid] = acc;                                                              \
        SYNC_LOCAL();                                                                    \
        for (int stride = width / 2; stride > 0; stride /= 2) {                          \
            if (lid < stride)                                                            \
                partial[lid] = (op) ? fmax(partial[lid], partial[lid + stride])          \
                                    : partial[lid] + partial[lid + stride];              \
            SYNC_LOCAL();                                                                \
        }                                                                                \
        result = partial[0];                                                             \
        SYNC_LOCAL();                                                                    \
    }

/* Softmax (logarithmic: log-softmax) of each row, the row maximum subtracted for stability. */
KERNEL void sbcl_softmax(GLOBAL const float *x, GLOBAL float *y, const int cols, const int logarithmic,
                         LOCAL_FLOATS(partial)) {
    const int row = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    GLOBAL const float *xr = x + (long)row * cols;
    float m, s;
    SBCL_ROW_REDUCE(xr[j], 1, m);
    SBCL_ROW_REDUCE(exp(xr[j] - m), 0, s);
    const float lse = m + log(s);
    for (int j = lid; j < cols; j += width)
        y[(long)row * cols + j] = logarithmic ? xr[j] - lse : exp(xr[j] - lse);
}

/* Pullbacks: softmax y·(g − <g, y>); log-softmax g − exp(y)·Σg. */
KERNEL void sbcl_softmax_backward(GLOBAL const float *g, GLOBAL const float *y, GLOBAL float *dx, const int cols,
                                  const int logarithmic, LOCAL_FLOATS(partial)) {
    const int row = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    GLOBAL const float *gr = g + (long)row * cols, *yr = y + (long)row * cols;
    float s;
    SBCL_ROW_REDUCE(logarithmic ? gr[j] : gr[j] * yr[j], 0, s);
    for (int j = lid; j < cols; j += width)
        dx[(long)row * cols + j] = logarithmic ? gr[j] - exp(yr[j]) * s : yr[j] * (gr[j] - s);
}

/* Cross-entropy: terms[i] = −coefficient[i]·logp[i, label[i]] (the coefficients hold the class
   weight over the batch's weight sum); the pullback g·coefficient[i]·(exp(logp) − onehot). */
KERNEL void sbcl_cross_entropy_terms(GLOBAL const float *logp, GLOBAL const int *labels, GLOBAL const float *coefficients,
                                     GLOBAL float *terms, const int rows, const int cols) {
    const int i = (int)GLOBAL_ID(0);
    if (i >= rows) return;
    terms[i] = -coefficients[i] * logp[(long)i * cols + labels[i]];
}

KERNEL void sbcl_cross_entropy_backward(GLOBAL const float *logp, GLOBAL const int *labels, GLOBAL const float *coefficients,
                                        GLOBAL const float *upstream, GLOBAL float *dx, const int total, const int cols) {
    const int k = (int)GLOBAL_ID(0);
    if (k >= total) return;
    const int i = k / cols, j = k % cols;
    dx[k] = upstream[0] * coefficients[i] * (exp(logp[k]) - (j == labels[i] ? 1.0f : 0.0f));
}

/* The maximum along an axis of x [outer, size, inner] and the index of its first occurrence. */
KERNEL void sbcl_max_axis(GLOBAL const float *x, GLOBAL float *out, GLOBAL int *indices, const int outer, const int size,
                          const int inner) {
    const int t = (int)GLOBAL_ID(0);
    if (t >= outer * inner) return;
    const int a = t / inner, i = t % inner;
    GLOBAL const float *column = x + (long)a * size * inner + i;
    float best = column[0];
    int at = 0;
    for (int k = 1; k < size; ++k) {
        const float v = column[(long)k * inner];
        if (v > best) { best = v; at = k; }
    }
    out[t] = best;
    indices[t] = at;
}

/* Its pullback as a gather: dx[a, k, i] = g[a, i] where k is the recorded index, else 0. */
KERNEL void sbcl_max_axis_backward(GLOBAL const float *g, GLOBAL const int *indices, GLOBAL float *dx, const int total,
                                   const int size, const int inner) {
    const int t = (int)GLOBAL_ID(0);
    if (t >= total) return;
    const int i = t % inner, k = (t / inner) % size, a = t / (inner * size);
    dx[t] = indices[a * inner + i] == k ? g[a * inner + i] : 0.0f;
}

/* Copies `count` slabs of `inner` 4-byte words per outer index: destination rows
   destinationStart.. of an axis of destinationAxis from source rows sourceStart.. of sourceAxis. */
KERNEL void sbcl_copy_blocks(GLOBAL const uint *source, GLOBAL uint *destination, const int total, const int count,
                             const int inner, const int sourceAxis, const int sourceStart, const int destinationAxis,
                             const int destinationStart) {
    const int t = (int)GLOBAL_ID(0);
    if (t >= total) return;
    const int i = t % inner, k = (t / inner) % count, a = t / (inner * count);
    destination[((long)a * destinationAxis + destinationStart + k) * inner + i] =
        source[((long)a * sourceAxis + sourceStart + k) * inner + i];
}
"""#
}
