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
            // The documented host fallback on a device, as for contrastiveLoss: the logits come
            // down (one download), the gradient goes up (one upload) and the upstream scale is
            // applied on the device.
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
}
