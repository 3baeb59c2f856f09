import Engine

// The MoCo losses' row pass (KernelSource+MoCoLoss) on both GPU backends: one work-group per
// query row.

extension KernelLaunching {
    package func mocoLossRows(_ logits: TensorStorage, rows: Int, columns: Int, kind: MoCoLossKind, targets: TensorStorage,
                             rowLoss: TensorStorage, gradient: TensorStorage?) {
        guard rows > 0, columns > 0 else { return }
        // Up to 512 wide, not the usual 256: rows are 1 + K long (65,537 for ImageNet-LT) and only B.
        let width = rowWidth(columns, cap: 512)
        let code = MoCoLossKernelArguments(kind)
        launch("sbcl_moco_loss_rows", global: rows * width, local: width,
               [.buffer(logits), .buffer(targets), .buffer(rowLoss), .buffer(gradient ?? rowLoss), .int(rows), .int(columns),
                .int(code.kind), .int(code.draws), .int(gradient == nil ? 0 : 1), .float(code.temperature),
                .float(code.classTemperature), .float(code.gamma), .local(6 * width * 4)])
    }
}
