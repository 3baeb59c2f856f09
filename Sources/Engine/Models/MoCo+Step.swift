/// What one MoCo step hands the loss: the logits and the queue's labels as they were before this
/// step's keys were enqueued (the reference's `logits, queue_label, queue_true_label`).
public struct MoCoOutput {
    /// [B, 1 + K]: column 0 is l_pos = q·k, columns 1… are l_neg = q·queue (not divided by the
    /// temperature; the loss does that). Differentiable with respect to the query encoder.
    public var logits: Tensor
    /// The queue's subclass labels (`queue_l`) before the enqueue, K values, −1 where empty.
    public var queueSubclass: [Int]
    /// The queue's class labels (`queue_t`) before the enqueue.
    public var queueClass: [Int]
    /// The normalised query projections q [B, dimension] (tracked).
    public var query: Tensor
    /// The normalised key projections k [B, dimension] (no gradient), this rank's rows.
    public var key: Tensor
}

extension MoCo {
    /// One step of the reference's `MoCo.forward(im_q, im_k, labels, true_labels)` on NHWC crops.
    ///
    /// Runs the momentum update before the keys (every call, as the reference), then enqueues
    /// this step's keys and labels (gathered over `communicator`'s ranks): columns `queuePointer
    /// ..< queuePointer + B·ranks` are overwritten and the pointer advances modulo K.
    /// Precondition: K is a multiple of the global batch B·ranks.
    ///
    /// With `batchNormGroups` G > 1 and `training`, the query encoder normalises in G groups of
    /// B/G rows; on one process the key encoder runs on the key crops in the order of
    /// `keyPermutation` (position p holds crop `keyPermutation[p]`; nil: as given), in G groups,
    /// and its keys are put back in the crops' order. With several ranks the keys are shuffled
    /// across ranks instead (by `keyPermutation` over the global batch when given, the same on
    /// every rank; else by a draw on rank 0) and each rank's slice runs in G groups.
    public func forward(query: Tensor, key: Tensor, subclassLabels: [Int], classLabels: [Int], training: Bool = true,
                        keyPermutation: [Int]? = nil) -> MoCoOutput {
        let b = query.shape.first ?? 0
        precondition(query.rank == 4 && key.shape == query.shape, "MoCo.forward: query \(query.shape) and key \(key.shape) must be one NHWC shape")
        precondition(subclassLabels.count == b && classLabels.count == b,
                     "MoCo.forward: \(b) images but \(subclassLabels.count) subclass and \(classLabels.count) class labels")
        let ranks = communicator?.size ?? 1
        precondition(queueSize % (b * ranks) == 0, "MoCo.forward: K = \(queueSize) is not a multiple of the global batch \(b)×\(ranks)")

        let q = BatchNormGroups.split(into: training ? batchNormGroups : 1) { encoderQuery(query, training: training) }.l2Normalized()
        momentumUpdate()
        let k = withoutGradients {
            if training, let communicator, communicator.size > 1 { return shuffledKeys(key, communicator, permutation: keyPermutation) }
            guard training, batchNormGroups > 1 else { return encoderKey(key, training: training).l2Normalized() }
            return groupedKeys(key, permutation: keyPermutation ?? Array(0..<b))
        }

        // The queue follows the model to a device on the first step there (`Module.move` knows only the encoders).
        if queue.backend !== q.backend { queue = queue.moved(to: q.backend) }
        let positive = (q * k).sum(axis: 1, keepingDimension: true)
        let negative = Tensor.matmul(q, queue)
        let logits = Tensor.concat([positive, negative], axis: 1)
        let before = (queueSubclass.map(Int.init), queueClass.map(Int.init))
        enqueue(keys: k, subclassLabels: subclassLabels, classLabels: classLabels)
        return MoCoOutput(logits: logits, queueSubclass: before.0, queueClass: before.1, query: q, key: k)
    }

    /// The key encoder's normalised projections of NHWC images [N, dimension], without gradient;
    /// with several ranks and `training`, through shuffle BN. Re-clustering embeds with this
    /// (the reference's `model(im_q=x)` path), in evaluation mode.
    public func keyProjections(_ images: Tensor, training: Bool = false) -> Tensor {
        withoutGradients {
            if training, let communicator, communicator.size > 1 {
                return shuffledKeys(images, communicator)
            }
            return encoderKey(images, training: training).l2Normalized()
        }
    }

    /// The key encoder's pooled backbone features [N, 512 or 2048] (no head), without gradient.
    public func keyFeatures(_ images: Tensor, training: Bool = false) -> Tensor {
        withoutGradients { encoderKey.features(images, training: training) }
    }

    /// `_dequeue_and_enqueue`: the keys and labels of every rank, in rank order, into the columns
    /// at the pointer. The queue is rebuilt rather than written in place, because the step's
    /// l_neg pullback still reads the old one (the reference's `queue.clone().detach()`).
    func enqueue(keys: Tensor, subclassLabels: [Int], classLabels: [Int]) {
        var keys = keys.detached, subclass = subclassLabels.map(Int64.init), classes = classLabels.map(Int64.init)
        if let communicator, communicator.size > 1 {
            keys = Tensor(communicator.allGather(keys.scalars, counts: Array(repeating: keys.count, count: communicator.size)),
                          shape: [keys.shape[0] * communicator.size, dimension]).moved(to: queue.backend)
            subclass = communicator.allGather(subclass).flatMap { $0 }
            classes = communicator.allGather(classes).flatMap { $0 }
        }
        let n = keys.shape[0], start = queuePointer
        withoutGradients {
            var parts = [Tensor]()
            if start > 0 { parts.append(queue.sliced(axis: 1, 0..<start)) }
            parts.append(keys.transposed())
            if start + n < queueSize { parts.append(queue.sliced(axis: 1, (start + n)..<queueSize)) }
            queue = parts.count == 1 ? parts[0].copied() : Tensor.concat(parts, axis: 1)
        }
        queueSubclass.replaceSubrange(start..<(start + n), with: subclass)
        queueClass.replaceSubrange(start..<(start + n), with: classes)
        queuePointer = (start + n) % queueSize
    }

    /// `_batch_shuffle_ddp` / `_batch_unshuffle_ddp`: gather every rank's images, run this rank's
    /// slice of a permutation of the global batch, gather the keys and take back this rank's rows.
    /// The permutation is `given` (every rank computes the same one: the training loop derives it
    /// from the seed and the step, so a resumed run shuffles as the uninterrupted one), else drawn
    /// on rank 0; either way rank 0's is broadcast.
    private func shuffledKeys(_ images: Tensor, _ communicator: any Communicator, permutation given: [Int]? = nil) -> Tensor {
        let ranks = communicator.size, b = images.shape[0], perImage = images.count / max(b, 1)
        let all = communicator.allGather(images.scalars, counts: Array(repeating: images.count, count: ranks))
        var permutation = [Int32](repeating: 0, count: b * ranks)
        if communicator.rank == 0 {
            if let given {
                precondition(given.count == b * ranks && Set(given) == Set(0..<(b * ranks)),
                             "MoCo.shuffledKeys: \(given.count) indices are not a permutation of the global batch of \(b * ranks)")
                permutation = given.map { Int32($0) }
            } else {
                permutation = (0..<Int32(b * ranks)).map { $0 }
                for i in stride(from: permutation.count - 1, to: 0, by: -1) {
                    permutation.swapAt(i, Int(shuffleGenerator.nextUInt32() % UInt32(i + 1)))
                }
            }
        }
        permutation.withUnsafeMutableBytes { communicator.broadcast($0, from: 0) }
        let mine = permutation[(communicator.rank * b)..<((communicator.rank + 1) * b)]
        var local = [Float](); local.reserveCapacity(images.count)
        for j in mine { local += all[(Int(j) * perImage)..<((Int(j) + 1) * perImage)] }
        let shuffled = Tensor(local, shape: images.shape).moved(to: images.backend)
        let k = BatchNormGroups.split(into: batchNormGroups) { encoderKey(shuffled, training: true) }.l2Normalized()
        let gathered = communicator.allGather(k.scalars, counts: Array(repeating: k.count, count: ranks))
        // Global row j went to position inverse[j] of the shuffled batch.
        var inverse = [Int](repeating: 0, count: b * ranks)
        for (position, j) in permutation.enumerated() { inverse[Int(j)] = position }
        var rows = [Float](); rows.reserveCapacity(k.count)
        for j in (communicator.rank * b)..<((communicator.rank + 1) * b) {
            rows += gathered[(inverse[j] * dimension)..<((inverse[j] + 1) * dimension)]
        }
        return Tensor(rows, shape: [b, dimension]).moved(to: images.backend)
    }

    /// One process's shuffle BN: the key encoder on the crops in `permutation`'s order, in
    /// `batchNormGroups` groups, its normalised keys returned in the crops' order.
    func groupedKeys(_ images: Tensor, permutation: [Int]) -> Tensor {
        let b = images.shape[0], perImage = images.count / max(b, 1)
        precondition(permutation.count == b && Set(permutation) == Set(0..<b),
                     "MoCo.groupedKeys: \(permutation.count) indices are not a permutation of the batch of \(b)")
        let x = images.scalars
        var local = [Float](); local.reserveCapacity(images.count)
        for j in permutation { local += x[(j * perImage)..<((j + 1) * perImage)] }
        let shuffled = Tensor(local, shape: images.shape).moved(to: images.backend)
        let k = BatchNormGroups.split(into: batchNormGroups) { encoderKey(shuffled, training: true) }.l2Normalized().scalars
        var rows = [Float](repeating: 0, count: b * dimension)
        for (position, j) in permutation.enumerated() {
            rows.replaceSubrange((j * dimension)..<((j + 1) * dimension), with: k[(position * dimension)..<((position + 1) * dimension)])
        }
        return Tensor(rows, shape: [b, dimension]).moved(to: images.backend)
    }

    /// The key permutation of one process's shuffle BN for the step at (`epoch`, `step`) of a run
    /// seeded `seed`: a Fisher–Yates shuffle of 0..<`count` from an MT19937 seeded by the three
    /// (so a resumed run draws what the uninterrupted one drew, with nothing to checkpoint).
    public static func keyPermutation(count: Int, seed: UInt64, epoch: Int, step: Int) -> [Int] {
        // SplitMix64 of the three, folded to the generator's 32-bit seed.
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* (UInt64(truncatingIfNeeded: epoch) &* 0x1_0000_0001 &+ UInt64(truncatingIfNeeded: step) &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        var generator = MT19937(seed: UInt32(truncatingIfNeeded: z ^ (z >> 32)))
        var permutation = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            permutation.swapAt(i, Int(generator.nextUInt32() % UInt32(i + 1)))
        }
        return permutation
    }
}
