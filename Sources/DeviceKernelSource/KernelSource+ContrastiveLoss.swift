extension KernelSource {
    /// The first-stage contrastive loss's row pass (the engine's `ContrastiveRows` on the device):
    /// one term of every anchor's loss and its d/ds_ij, one work-group per anchor. Same dialect and
    /// macros as `text`; placed after `rows`, whose `SBCL_ROW_REDUCE` it uses.
    package static let contrastiveLoss = #"""

/* The first-stage contrastive loss (the empty line above ends `rows`' last line). */
#ifdef SBCL_PRELUDE
#define SBCL_INT_AS_FLOAT(x) __int_as_float(x)
#else
#define SBCL_INT_AS_FLOAT(x) as_float(x)
#endif

/* Anchor j of n = 2·batch is view j / batch of image j mod batch. */
#define SBCL_IMAGE(j) ((j) < batch ? (j) : (j) - batch)

/* Whether anchor j is in P(i), by the positives rule: 0 same class, 1 same subclass, 2 the other
   view v(i) or the same class in another subclass. Never i itself. */
DEVICE_FN int sbcl_contrastive_positive(const int rule, const int i, const int other, const int li, const int si,
                                        const int j, const int lj, const int sj) {
    if (j == i) return 0;
    if (rule == 0) return lj == li;
    if (rule == 1) return sj == si;
    return j == other || (sj != si && lj == li);
}

/* Whether anchor j is in D(i), by the denominator rule: 0 every anchor but i, 1 v(i) and every
   anchor of another subclass. */
DEVICE_FN int sbcl_contrastive_denominator(const int rule, const int i, const int other, const int si, const int j,
                                           const int sj) {
    if (rule == 0) return j != i;
    return j == other || sj != si;
}

/* One term −w·(mean_{P(i)} logit − log Σ_{D(i)} exp logit), logit_j = (s_ij − max_j s_ij)/t, of
   anchor i = the work-group over row i of s (cols = n anchors): `scale`·loss into rowLoss[i] and
   `scale`·(w/t)·(softmax_D(j) − [j∈P]/|P|) into g[i, j], written (accumulate 0) or added (1).
   anchors holds per image three ints: label, subclass, the bits of the class temperature (read
   when temperature ≤ 0, the anchor-class rule). */
KERNEL void sbcl_contrastive_rows(GLOBAL const float *s, GLOBAL const int *anchors, GLOBAL float *rowLoss, GLOBAL float *g,
                                  const int cols, const int batch, const int positives, const int denominator,
                                  const float weight, const float temperature, const float scale, const int accumulate,
                                  LOCAL_FLOATS(partial)) {
    const int i = (int)GROUP_ID(0), lid = (int)LOCAL_ID(0), width = (int)LOCAL_SIZE(0);
    const int image = SBCL_IMAGE(i), other = i < batch ? i + batch : i - batch;
    const int li = anchors[3 * image], si = anchors[3 * image + 1];
    const float t = temperature > 0.0f ? temperature : SBCL_INT_AS_FLOAT(anchors[3 * image + 2]);
    const float inverseT = 1.0f / t;
    GLOBAL const float *row = s + (long)i * cols;
    float m, sumExp, sumPositive, count;
    SBCL_ROW_REDUCE(row[j], 1, m);
    SBCL_ROW_REDUCE(sbcl_contrastive_denominator(denominator, i, other, si, j, anchors[3 * SBCL_IMAGE(j) + 1])
                        ? exp((row[j] - m) * inverseT) : 0.0f, 0, sumExp);
    SBCL_ROW_REDUCE(sbcl_contrastive_positive(positives, i, other, li, si, j, anchors[3 * SBCL_IMAGE(j)],
                                              anchors[3 * SBCL_IMAGE(j) + 1]) ? (row[j] - m) * inverseT : 0.0f,
                    0, sumPositive);
    SBCL_ROW_REDUCE(sbcl_contrastive_positive(positives, i, other, li, si, j, anchors[3 * SBCL_IMAGE(j)],
                                              anchors[3 * SBCL_IMAGE(j) + 1]) ? 1.0f : 0.0f, 0, count);
    if (lid == 0) {
        const float loss = scale * (-weight * (sumPositive / count - log(sumExp)));
        rowLoss[i] = accumulate ? rowLoss[i] + loss : loss;
    }
    const float factor = weight * inverseT * scale;
    const float probabilityFactor = factor * (1.0f / sumExp), positiveStep = factor / count;
    GLOBAL float *out = g + (long)i * cols;
    for (int j = lid; j < cols; j += width) {
        const int lj = anchors[3 * SBCL_IMAGE(j)], sj = anchors[3 * SBCL_IMAGE(j) + 1];
        float d = sbcl_contrastive_denominator(denominator, i, other, si, j, sj) ? exp((row[j] - m) * inverseT)
                                                                                   * probabilityFactor : 0.0f;
        if (sbcl_contrastive_positive(positives, i, other, li, si, j, lj, sj)) d -= positiveStep;
        out[j] = accumulate ? out[j] + d : d;
    }
}
"""#
}
