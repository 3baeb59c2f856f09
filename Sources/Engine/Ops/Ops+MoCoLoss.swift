extension Tensor {
    /// A MoCo loss (KCL, SBCL-MoCo rank or ccl) of the logits [B, 1 + K] — column 0 q·k, columns
    /// 1…K q·queue, not divided by a temperature — as a scalar; its pullback is the fused
    /// d loss / d logits computed with the value. KCL draws its uniforms here (from
    /// `targets.uniforms`, else from `loss.generator`), so each call samples anew.
    public static func mocoLoss(_ logits: Tensor, _ loss: MoCoLoss, _ targets: MoCoTargets) -> Tensor {
        precondition(logits.rank == 2 && logits.dtype == .float32 && logits.shape[0] == targets.labels.count
                     && logits.shape[1] == targets.queueLabels.count + 1,
                     "mocoLoss: logits \(logits.dtype) \(logits.shape) do not match \(targets.labels.count) queries and a "
                     + "queue of \(targets.queueLabels.count)")
        let tracked = GradMode.isEnabled && logits.node != nil
        let shape = logits.shape
        if !logits.storage.isHost {
            if let device = logits.backend as? any DeviceKernels, device.supports(.mocoLoss) {
                return deviceMoCoLoss(device, logits, loss, targets, tracked: tracked)
            }
            // The host fallback for a device without the op: the logits come down (one download),
            // the gradient goes up (one upload) and the upstream scale is applied on the device.
            let host = logits.scalars
            var gradient: [Float] = []
            let value: Float
            if tracked {
                (value, gradient) = loss.valueAndGradient(logits: host, targets: targets)
            } else {
                value = loss.value(logits: host, targets: targets)
            }
            return recorded(Tensor(scalar: value, on: logits.backend), op: .mocoLoss, inputs: [logits]) { g, _ in
                [zipBroadcast(Tensor(gradient, shape: shape, on: g.backend), g, "mocoLoss", .multiply, *)]
            }
        }
        // On the host the gradient is written straight into a tensor's storage: no B × (1 + K) copy.
        let gradient = tracked ? Tensor(uninitializedShape: shape) : nil
        let value = logits.withFloats { x in
            if let gradient {
                return gradient.withMutableFloats { loss.evaluate(logits: x, targets: targets, gradient: $0) }
            }
            return loss.evaluate(logits: x, targets: targets, gradient: nil)
        }
        return recorded(Tensor(scalar: value, on: logits.backend), op: .mocoLoss, inputs: [logits]) { g, _ in
            let scale = g.item
            return [scale == 1 ? gradient! : gradient!.scaled(by: scale)]
        }
    }

    /// The loss on the device (`DeviceKernels.mocoLossRows`): KCL's positives sampled on the host
    /// as on the CPU (`MoCoLoss.prepare`), the per-query data in one upload, the row losses and the
    /// gradient computed on the device, the mean taken there. Nothing comes back to the host.
    private static func deviceMoCoLoss(_ device: any DeviceKernels, _ logits: Tensor, _ loss: MoCoLoss, _ targets: MoCoTargets,
                                       tracked: Bool) -> Tensor {
        let batch = targets.labels.count, queue = targets.queueLabels.count, columns = queue + 1
        loss.prepare(targets: targets, logitCount: logits.count)
        let draws = MoCoLossKernelArguments(loss.kind).draws
        var packed = [Int32]()
        packed.reserveCapacity(3 * batch + (draws > 0 ? batch * draws : 2 * queue))
        for i in 0..<batch {
            packed.append(targets.labels[i])
            packed.append(loss.kind.usesSubclasses ? targets.subclasses[i] : 0)
            packed.append(draws > 0 ? loss.sampledCount[i] : 0)
        }
        if draws > 0 {
            packed += loss.sampled
        } else if loss.kind.usesSubclasses {
            packed += targets.queueLabels
            packed += targets.queueSubclasses
        }
        let packedTargets = Tensor(int32: packed, shape: [packed.count], on: logits.backend)
        let rowLoss = Tensor(uninitializedShape: [batch], on: logits.backend)
        let gradient = tracked ? Tensor(uninitializedShape: logits.shape, on: logits.backend) : nil
        device.mocoLossRows(logits.storage, rows: batch, columns: columns, kind: loss.kind, targets: packedTargets.storage,
                            rowLoss: rowLoss.storage, gradient: gradient?.storage)
        let value = withoutGradients { rowLoss.sum().scaled(by: 1 / Float(batch)) }
        return recorded(value, op: .mocoLoss, inputs: [logits]) { g, _ in
            [zipBroadcast(gradient!, g, "mocoLoss", .multiply, *)]
        }
    }
}

/// The scalar arguments of the device kernel for a `MoCoLossKind` (KernelLaunching+MoCoLoss.swift): the kind as a code (0 KCL, 1 ccl, 2 rank), KCL's draws (0 otherwise), τ, τ_c (τ where
/// unused) and γ (0 for KCL).
package struct MoCoLossKernelArguments {
    package var kind: Int, draws: Int, temperature: Float, classTemperature: Float, gamma: Float

    package init(_ loss: MoCoLossKind) {
        switch loss {
        case let .kcl(draws, t): (kind, self.draws, temperature, classTemperature, gamma) = (0, draws, t, t, 0)
        case let .ccl(t, g): (kind, draws, temperature, classTemperature, gamma) = (1, 0, t, t, g)
        case let .rank(t, classT, g): (kind, draws, temperature, classTemperature, gamma) = (2, 0, t, classT, g)
        }
    }
}
