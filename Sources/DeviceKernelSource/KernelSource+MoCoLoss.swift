extension KernelSource {
    /// The kernels of `mocoLoss`, created once per backend beside `kernelNames`.
    package static let mocoLossKernelNames = ["sbcl_moco_loss_rows"]

    /// The MoCo losses' row pass (KCL, SBCL-MoCo rank and ccl, as the CPU's `MoCoLossRows`): one
    /// work-group per query row of 1 + K logits, its loss and, when asked, its row of
    /// d loss / d logits. Same dialect and macros as `text`.
    package static let mocoLoss = #"""
/* Reduces `count` (≤ 6) per-thread partial sums, each at partial[v·width + lid], to partial[v·width]. */
#define SBCL_MOCO_SUMS(count)                                                            \
    {                                                                                    \
        SYNC_LOCAL();                                                                    \
        for (int stride = width / 2; stride > 0; stride /= 2) {                          \
            if (lid < stride)                                                            \
                for (int v = 0; v < (count); ++v)                                        \
                    partial[v * width + lid] += partial[v * width + lid + stride];       \
            SYNC_LOCAL();                                                                \
        }                                                                                \
    }

/* One row (query) per work-group of a power-of-two width; `partial` holds 6·width floats.
   kind 0 KCL: positives the key and the row's sampled queue entries, over all columns at t;
   kind 1 ccl: L_sub + gamma·L_cls, both over all columns at t;
   kind 2 rank: L_sub at t + gamma·L_cls at classT, L_cls's positives the key and the class's
   entries of another subclass, its denominator the key and every entry of another subclass.
   Each term is −mean_P z + log Σ_D exp z with z = (x − max x) / t; its derivative
   (1/t)·(softmax_D − [P]/|P|), divided by the batch, goes to `gradient` when writeGradient.
   targets (int32): per row label, subclass, KCL's sampled count (3·batch); KCL's sampled queue
   indices (batch·draws); for ccl and rank the queue's labels then its subclasses (K each, −1 an
   empty slot, which matches no query). */
KERNEL void sbcl_moco_loss_rows(GLOBAL const float *x, GLOBAL const int *targets, GLOBAL float *rowLoss,
                                GLOBAL float *gradient, const int batch, const int cols, const int kind, const int draws,
                                const int writeGradient, const float t, const float classT, const float gamma,
                                LOCAL_FLOATS(partial)) {
    const int row = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    GLOBAL const float *xr = x + (long)row * cols;
    GLOBAL float *out = gradient + (long)row * cols;
    const int label = targets[3 * row], subclass = targets[3 * row + 1], taken = targets[3 * row + 2];
    GLOBAL const int *sampled = targets + 3 * batch + row * draws;
    GLOBAL const int *queueLabels = targets + 3 * batch + batch * draws;
    GLOBAL const int *queueSubclasses = queueLabels + (cols - 1);
    const float inverseT = 1.0f / t, inverseClassT = 1.0f / classT;

    float m = -INFINITY;
    for (int j = lid; j < cols; j += width) m = fmax(m, xr[j]);
    partial[lid] = m;
    SYNC_LOCAL();
    for (int stride = width / 2; stride > 0; stride /= 2) {
        if (lid < stride) partial[lid] = fmax(partial[lid], partial[lid + stride]);
        SYNC_LOCAL();
    }
    m = partial[0];
    SYNC_LOCAL();

    if (kind == 0) {
        float s = 0.0f;
        for (int j = lid; j < cols; j += width) s += exp((xr[j] - m) * inverseT);
        partial[lid] = s;
        SBCL_MOCO_SUMS(1);
        const float sumExp = partial[0];
        float positive = (xr[0] - m) * inverseT;
        for (int k = 0; k < taken; ++k) positive += (xr[sampled[k] + 1] - m) * inverseT;
        const float positives = (float)(1 + taken);
        if (lid == 0) rowLoss[row] = log(sumExp) - positive / positives;
        if (writeGradient) {
            const float factor = inverseT / (float)batch;
            const float probability = factor * (1.0f / sumExp), step = factor / positives;
            for (int j = lid; j < cols; j += width)
                out[j] = exp((xr[j] - m) * inverseT) * probability - (j == 0 ? step : 0.0f);
            /* The thread that wrote a sampled column subtracts its step (no other thread reads it). */
            for (int k = 0; k < taken; ++k) {
                const int c = sampled[k] + 1;
                if (c % width == lid) out[c] -= step;
            }
        }
        return;
    }

    if (kind == 1) {
        const float z0 = (xr[0] - m) * inverseT;
        float sumExp = 0.0f, sumSub = 0.0f, countSub = 0.0f, sumClass = 0.0f, countClass = 0.0f;
        if (lid == 0) { sumExp = exp(z0); sumSub = z0; countSub = 1.0f; sumClass = z0; countClass = 1.0f; }
        for (int j = lid + (lid == 0 ? width : 0); j < cols; j += width) {
            const float z = (xr[j] - m) * inverseT;
            sumExp += exp(z);
            if (queueSubclasses[j - 1] == subclass) { sumSub += z; countSub += 1.0f; }
            if (queueLabels[j - 1] == label) { sumClass += z; countClass += 1.0f; }
        }
        partial[lid] = sumExp; partial[width + lid] = sumSub; partial[2 * width + lid] = countSub;
        partial[3 * width + lid] = sumClass; partial[4 * width + lid] = countClass;
        SBCL_MOCO_SUMS(5);
        sumExp = partial[0]; sumSub = partial[width]; countSub = partial[2 * width];
        sumClass = partial[3 * width]; countClass = partial[4 * width];
        const float lse = log(sumExp);
        if (lid == 0) rowLoss[row] = (lse - sumSub / countSub) + gamma * (lse - sumClass / countClass);
        if (writeGradient) {
            const float factor = inverseT / (float)batch;
            const float probability = (1.0f + gamma) * factor * (1.0f / sumExp);
            const float subStep = factor / countSub, classStep = gamma * factor / countClass;
            for (int j = lid; j < cols; j += width) {
                float d = exp((xr[j] - m) * inverseT) * probability;
                if (j == 0) { d = d - subStep - classStep; }
                else {
                    if (queueSubclasses[j - 1] == subclass) d -= subStep;
                    if (queueLabels[j - 1] == label) d -= classStep;
                }
                out[j] = d;
            }
        }
        return;
    }

    {
        const float shifted0 = xr[0] - m;
        float sumExp = 0.0f, sumSub = 0.0f, countSub = 0.0f, sumClassExp = 0.0f, sumClass = 0.0f, countClass = 0.0f;
        if (lid == 0) {
            sumExp = exp(shifted0 * inverseT); sumSub = shifted0 * inverseT; countSub = 1.0f;
            sumClassExp = exp(shifted0 * inverseClassT); sumClass = shifted0 * inverseClassT; countClass = 1.0f;
        }
        for (int j = lid + (lid == 0 ? width : 0); j < cols; j += width) {
            const float shifted = xr[j] - m;
            const float z = shifted * inverseT;
            sumExp += exp(z);
            if (queueSubclasses[j - 1] == subclass) { sumSub += z; countSub += 1.0f; }
            else {
                const float zc = shifted * inverseClassT;
                sumClassExp += exp(zc);
                if (queueLabels[j - 1] == label) { sumClass += zc; countClass += 1.0f; }
            }
        }
        partial[lid] = sumExp; partial[width + lid] = sumSub; partial[2 * width + lid] = countSub;
        partial[3 * width + lid] = sumClassExp; partial[4 * width + lid] = sumClass; partial[5 * width + lid] = countClass;
        SBCL_MOCO_SUMS(6);
        sumExp = partial[0]; sumSub = partial[width]; countSub = partial[2 * width];
        sumClassExp = partial[3 * width]; sumClass = partial[4 * width]; countClass = partial[5 * width];
        if (lid == 0)
            rowLoss[row] = (log(sumExp) - sumSub / countSub) + gamma * (log(sumClassExp) - sumClass / countClass);
        if (writeGradient) {
            const float subFactor = inverseT / (float)batch, classFactor = gamma * inverseClassT / (float)batch;
            const float probability = subFactor * (1.0f / sumExp), classProbability = classFactor * (1.0f / sumClassExp);
            const float subStep = subFactor / countSub, classStep = classFactor / countClass;
            for (int j = lid; j < cols; j += width) {
                const float shifted = xr[j] - m;
                float d = exp(shifted * inverseT) * probability;
                if (j == 0) {
                    d = d + exp(shifted * inverseClassT) * classProbability - subStep - classStep;
                } else if (queueSubclasses[j - 1] == subclass) {
                    d -= subStep;
                } else {
                    d += exp(shifted * inverseClassT) * classProbability;
                    if (queueLabels[j - 1] == label) d -= classStep;
                }
                out[j] = d;
            }
        }
    }
}
"""#
}
