/// The kernels a backend with its own memory (a GPU) runs for the engine's ops.
///
/// The engine's ops check `tensor.backend as? any DeviceKernels` and `supports(_:)` at their
/// start and call these; everything else about the op (shapes, autodiff, the pullback) stays in
/// `Ops/`, shared with the CPU. Storage handed in belongs to the conforming backend; outputs are
/// fresh storage the op just allocated. Work is queued in order and may still be running when a
/// call returns: `Backend.download` and `Backend.synchronize` wait for it.
public protocol DeviceKernels: Backend {
    /// Starts copying `values` into `destination` on a transfer queue, beside the queued work;
    /// work queued after the returned upload's `ready()` waits for it. `values` stays alive until
    /// the copy completes. (The next batch's images, uploaded while the device computes this one.)
    func uploadInBackground(_ values: [Float], to destination: TensorStorage) -> BackgroundUpload

    /// `out[i] = f(x[i])` for `count` Float32 elements.
    func map(_ kernel: UnaryKernel, _ x: TensorStorage, count: Int, into out: TensorStorage)
    /// `out[i] = f(a[ia], b[ib])` over `shape` in row-major order, the offsets following the
    /// element strides `stridesA` and `stridesB` (0 along broadcast dimensions; rank ≤ 8).
    func zip(_ kernel: BinaryKernel, _ a: TensorStorage, strides stridesA: [Int], _ b: TensorStorage,
             strides stridesB: [Int], shape: [Int], into out: TensorStorage)
    /// `out[o, i] = Σ_k x[o, k, i]` for x of shape [outer, size, inner] (row-major).
    func sum(_ x: TensorStorage, outer: Int, size: Int, inner: Int, into out: TensorStorage)
    /// Sets `count` Float32 elements to `value`.
    func fill(_ value: Float, count: Int, into out: TensorStorage)
    /// Int32 elements as Float32.
    func convertToFloat(_ x: TensorStorage, count: Int, into out: TensorStorage)
    /// `C = α·op(A)·op(B) + β·C`, row-major, `op(A)` m × k, `op(B)` k × n (as `GEMM.sgemm`).
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: TensorStorage, lda: Int, b: TensorStorage, ldb: Int, beta: Float, c: TensorStorage, ldc: Int)

    // The network layers (the ResNet of SupConResNet and its head), with the CPU kernels' semantics.

    /// Convolution NHWC input × OIHW weight → NHWC output (as `Conv2D.forward`).
    func conv2dForward(_ geometry: Conv2DGeometry, input: TensorStorage, weight: TensorStorage, into output: TensorStorage)
    /// The input gradient of a convolution (as `Conv2D.backwardData`).
    func conv2dBackwardData(_ geometry: Conv2DGeometry, outputGradient: TensorStorage, weight: TensorStorage,
                            into inputGradient: TensorStorage)
    /// The weight gradient of a convolution (as `Conv2D.backwardWeight`).
    func conv2dBackwardWeight(_ geometry: Conv2DGeometry, input: TensorStorage, outputGradient: TensorStorage,
                              into weightGradient: TensorStorage)
    /// Training batch norm's statistics over `rows × channels` values: the batch mean and
    /// 1/√(σ²_biased + ε) into `savedMean`/`savedInverseStd`, and the running statistics updated
    /// in place (momentum, unbiased variance), as `BatchNorm2D.trainingForward`.
    func batchNormStatistics(_ input: TensorStorage, rows: Int, channels: Int, runningMean: TensorStorage,
                             runningVariance: TensorStorage, momentum: Float, epsilon: Float,
                             savedMean: TensorStorage, savedInverseStd: TensorStorage)
    /// `y = γ·(x − mean)·inverseStd + β`, then max(0, y) when `relu`.
    func batchNormNormalize(_ input: TensorStorage, rows: Int, channels: Int, mean: TensorStorage, inverseStd: TensorStorage,
                            gamma: TensorStorage, beta: TensorStorage, relu: Bool, into output: TensorStorage)
    /// Batch norm's pullback through the fused ReLU (training: the batch statistics are functions
    /// of the input; evaluation: constants), as `BatchNorm2D.trainingBackward`/`inferenceBackward`.
    func batchNormBackward(training: Bool, input: TensorStorage, outputGradient: TensorStorage, rows: Int, channels: Int,
                           mean: TensorStorage, inverseStd: TensorStorage, gamma: TensorStorage, beta: TensorStorage,
                           relu: Bool, inputGradient: TensorStorage, gammaGradient: TensorStorage, betaGradient: TensorStorage)
    /// The option-A shortcut of NHWC [batch, height, width, channels] (as `ShortcutA.forward`).
    func shortcutA(_ input: TensorStorage, batch: Int, height: Int, width: Int, channels: Int, padding: Int,
                   into output: TensorStorage)
    /// Its pullback (as `ShortcutA.backward`).
    func shortcutABackward(_ outputGradient: TensorStorage, batch: Int, height: Int, width: Int, channels: Int, padding: Int,
                           into inputGradient: TensorStorage)
    /// Max pooling of NHWC input with the winners' Int32 pixel indices (as `MaxPool2D.forward`).
    func maxPool2d(_ geometry: MaxPool2DGeometry, input: TensorStorage, into output: TensorStorage, indices: TensorStorage)
    /// Its pullback (as `MaxPool2D.backward`): the gradient to the recorded pixels, summed where
    /// windows overlap.
    func maxPool2dBackward(_ geometry: MaxPool2DGeometry, outputGradient: TensorStorage, indices: TensorStorage,
                           into inputGradient: TensorStorage)
    /// Rows of `cols` values divided by max(‖row‖, ε); the norms go to `norms` (`rows` floats).
    func l2Normalize(_ input: TensorStorage, rows: Int, cols: Int, epsilon: Float, into output: TensorStorage,
                     norms: TensorStorage)
    /// Its pullback from the output `output` and `norms`.
    func l2NormalizeBackward(_ outputGradient: TensorStorage, output: TensorStorage, norms: TensorStorage, rows: Int, cols: Int,
                             epsilon: Float, into inputGradient: TensorStorage)
    /// One SGD update of `count` parameters in place (PyTorch's formulation, as `SGD.step`);
    /// `buffer` is the momentum buffer, set to d on the `firstStep`.
    func sgdStep(parameter: TensorStorage, gradient: TensorStorage, buffer: TensorStorage, count: Int, learningRate: Float,
                 momentum: Float, weightDecay: Float, dampening: Float, nesterov: Bool, firstStep: Bool)

    // Rows and layout (the classifier, the cross-entropy baseline, concat and slice).

    /// Softmax (or log-softmax when `logarithmic`) of each of `rows` rows of `cols` values.
    func softmax(_ input: TensorStorage, rows: Int, cols: Int, logarithmic: Bool, into output: TensorStorage)
    /// Its pullback from the output.
    func softmaxBackward(_ outputGradient: TensorStorage, output: TensorStorage, rows: Int, cols: Int, logarithmic: Bool,
                         into inputGradient: TensorStorage)
    /// `terms[i] = −coefficients[i]·logp[i, labels[i]]` (labels Int32, coefficients Float32, `rows` each).
    func crossEntropyTerms(_ logProbabilities: TensorStorage, labels: TensorStorage, coefficients: TensorStorage, rows: Int,
                           cols: Int, into terms: TensorStorage)
    /// `dx[i, j] = g·coefficients[i]·(exp(logp[i, j]) − [j = labels[i]])`, g the one-element `upstream`.
    func crossEntropyBackward(_ logProbabilities: TensorStorage, labels: TensorStorage, coefficients: TensorStorage,
                              upstream: TensorStorage, rows: Int, cols: Int, into inputGradient: TensorStorage)
    /// The maximum along the middle axis of [outer, size, inner] and the Int32 index of its first occurrence.
    func max(_ input: TensorStorage, outer: Int, size: Int, inner: Int, into output: TensorStorage, indices: TensorStorage)
    /// Its pullback: the gradient to the recorded indices, zero elsewhere.
    func maxBackward(_ outputGradient: TensorStorage, indices: TensorStorage, outer: Int, size: Int, inner: Int,
                     into inputGradient: TensorStorage)
    /// Copies, for each of `outer` blocks, `count` slabs of `inner` 4-byte elements from index
    /// `sourceStart` of an axis of `sourceAxis` to index `destinationStart` of one of `destinationAxis`.
    func copyBlocks(_ source: TensorStorage, sourceAxis: Int, sourceStart: Int, into destination: TensorStorage,
                    destinationAxis: Int, destinationStart: Int, outer: Int, count: Int, inner: Int)

    // The first-stage contrastive loss

    /// One term of a first-stage contrastive loss over its `n` = 2·`batch` anchors (as the host's
    /// `ContrastiveLoss` row pass): for each anchor i, from row i of `similarity` (S = Z·Zᵀ, n × n),
    /// `scale`·loss_i with loss_i = −w·(mean_{P(i)} logit − log Σ_{D(i)} exp logit) and
    /// logit_j = (s_ij − max_j s_ij)/t into `rowLoss[i]`, and its
    /// `scale`·d loss_i / d s_ij = `scale`·(w/t)·(softmax_D(j) − [j∈P(i)]/|P(i)|) into row i of
    /// `coefficients` (n × n); both written when `accumulate` is false, added otherwise (the next
    /// term). `anchors` holds `batch` × 3 Int32, per image: label, subclass, and the bit pattern of
    /// its class temperature (read for `.anchorClass`); anchor i is image i mod `batch`.
    func contrastiveRows(similarity: TensorStorage, anchors: TensorStorage, n: Int, batch: Int, term: ContrastiveTerm,
                         scale: Float, accumulate: Bool, rowLoss: TensorStorage, coefficients: TensorStorage)

    // The MoCo loss (`Tensor.mocoLoss`): its row pass on the device, no host round trip.

    /// The row pass of `MoCoLoss` (`MoCoLossRows`) for `kind` over logits [rows, columns] (column 0
    /// q·k, columns 1…K q·queue, K = columns − 1): `rowLoss[i]` (`rows` floats) gets query i's loss
    /// before the mean over queries, and `gradient` (same shape as the logits, when given) gets
    /// d mean loss / d logits. `targets` is one Int32 buffer, the host's data in one upload:
    /// for each query i its class label, subclass id (0 for KCL) and KCL's count of sampled
    /// positives (3 · rows); then KCL's sampled queue indices, `draws` slots per query (rows ·
    /// draws, the first `count` used; none for rank and ccl); then, for rank and ccl only, the
    /// queue's K class labels and K subclass ids (−1 an empty slot).
    func mocoLossRows(_ logits: TensorStorage, rows: Int, columns: Int, kind: MoCoLossKind, targets: TensorStorage,
                      rowLoss: TensorStorage, gradient: TensorStorage?)
}

/// Element-wise functions of one Float32 tensor that a device kernel implements.
public enum UnaryKernel: Equatable, Sendable {
    case negate, exp, log, sqrt, relu
    /// x·s
    case scale(Float)
    /// x + s
    case addScalar(Float)
    /// x^p
    case pow(Float)
}

/// Element-wise functions of two broadcast Float32 tensors that a device kernel implements: the
/// four arithmetic ops and the pullbacks of the unary ops, named after what they compute.
public enum BinaryKernel: Equatable, Sendable {
    case add, subtract, multiply, divide
    /// a if b > 0, else 0 (the pullback of relu, b the input).
    case reluBackward
    /// a·0.5 / b (the pullback of sqrt, b its output).
    case sqrtBackward
    /// −a / b (with a = g·out, the pullback of a quotient's divisor).
    case negatedQuotient
    /// a·p·b^(p−1) (the pullback of x^p, b the input).
    case powBackward(Float)
    /// v where b ≠ 0, else a (masked fill, b the mask).
    case maskedFill(Float)
}

extension Tensor {
    /// This tensor's backend as a device backend that runs `op`, or nil when the op runs on the CPU.
    /// A device tensor whose backend lacks the op stops at a precondition naming both (no silent
    /// host round trip).
    func deviceKernels(for op: PrimitiveOp) -> (any DeviceKernels)? {
        guard !storage.isHost else { return nil }
        guard let device = backend as? any DeviceKernels, device.supports(op) else {
            preconditionFailure("\(op.rawValue): no kernel on \(backend.name); move the tensors to the CPU first")
        }
        return device
    }

    /// Moves the values to `target` (no graph link): a transfer when one side is a device,
    /// a plain copy otherwise; `self` when already there.
    public func moved(to target: any Backend) -> Tensor {
        if target === backend { return self }
        let out = Tensor(uninitializedShape: shape, dtype: dtype, on: target)
        let bytes = count * dtype.byteSize
        switch (storage.isHost, out.storage.isHost) {
        case (true, _):
            target.upload(UnsafeRawBufferPointer(start: storage.raw, count: bytes), to: out.storage)
        case (false, true):
            backend.download(storage, into: UnsafeMutableRawBufferPointer(start: out.storage.raw, count: bytes))
        case (false, false):
            var host = [UInt8](repeating: 0, count: bytes)
            host.withUnsafeMutableBytes { backend.download(storage, into: $0) }
            host.withUnsafeBytes { target.upload($0, to: out.storage) }
        }
        return out
    }
}

/// A host-to-device copy running beside the device's work (`DeviceKernels.uploadInBackground`).
public final class BackgroundUpload {
    private let makeReady: () -> Void
    private let complete: () -> Void
    private var isReady = false

    /// `ready` makes later work wait for the copy; `complete` waits for it and frees what it held.
    public init(ready: @escaping () -> Void, complete: @escaping () -> Void) {
        makeReady = ready
        self.complete = complete
    }

    /// Makes the work queued from now on wait for the copy (once; later calls do nothing).
    public func ready() {
        guard !isReady else { return }
        isReady = true
        makeReady()
    }

    deinit { complete() }
}
