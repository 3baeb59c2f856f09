import Engine

// The MoCo losses' row pass (KernelSource+MoCoLoss) on both GPU backends: one work-group per
// query row.

extension KernelLaunching {
    /// The work-group width of `sbcl_moco_loss_rows`: a power of two up to 512 and the device's limit,
    /// no wider than the row (rows are 1 + K long, 65,537 for ImageNet-LT, and there are only B).
    func mocoRowWidth(_ columns: Int) -> Int {
        let limit = Swift.min(512, maximumGroupSize)
        var width = 1
        while width * 2 <= limit && width < columns { width *= 2 }
        return width
    }

    package func mocoLossRows(_ logits: TensorStorage, rows: Int, columns: Int, kind: MoCoLossKind, targets: TensorStorage,
                             rowLoss: TensorStorage, gradient: TensorStorage?) {
        guard rows > 0, columns > 0 else { return }
        let width = mocoRowWidth(columns)
        let code = MoCoLossKernelArguments(kind)
        launch("sbcl_moco_loss_rows", global: rows * width, local: width,
               [.buffer(logits), .buffer(targets), .buffer(rowLoss), .buffer(gradient ?? rowLoss), .int(rows), .int(columns),
                .int(code.kind), .int(code.draws), .int(gradient == nil ? 0 : 1), .float(code.temperature),
                .float(code.classTemperature), .float(code.gamma), .local(6 * width * 4)])
    }
}
