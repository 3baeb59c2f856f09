import Engine

// The element-wise families and the axis sum of `KernelSource`, launched once for both GPU
// backends (`KernelLaunching`).

extension KernelLaunching {
    package func map(_ kernel: UnaryKernel, _ x: TensorStorage, count: Int, into out: TensorStorage) {
        let (code, s): (Int, Float) = switch kernel {
        case .negate: (0, 0)
        case .exp: (1, 0)
        case .log: (2, 0)
        case .sqrt: (3, 0)
        case .relu: (4, 0)
        case .scale(let v): (5, v)
        case .addScalar(let v): (6, v)
        case .pow(let p): (7, p)
        }
        launchElementwise("sbcl_map", count: count, [.buffer(x), .buffer(out), .int(count), .int(code), .float(s)])
    }

    package func zip(_ kernel: BinaryKernel, _ a: TensorStorage, strides stridesA: [Int], _ b: TensorStorage,
                     strides stridesB: [Int], shape: [Int], into out: TensorStorage) {
        precondition(shape.count <= 8, "\(name) zip: rank \(shape.count) above 8 (shape \(shape))")
        let (code, s): (Int, Float) = switch kernel {
        case .add: (0, 0)
        case .subtract: (1, 0)
        case .multiply: (2, 0)
        case .divide: (3, 0)
        case .reluBackward: (4, 0)
        case .sqrtBackward: (5, 0)
        case .negatedQuotient: (6, 0)
        case .powBackward(let p): (7, p)
        case .maskedFill(let v): (8, v)
        }
        let count = shape.reduce(1, *)
        let dense = Self.denseStrides(shape)
        let contiguous = stridesA == dense && stridesB == dense
        let scalarB = stridesA == dense && stridesB.allSatisfy { $0 == 0 }
        // ZipGeometry in KernelSource: rank, contiguous, scalarB, pad, shape[8], strideA[8], strideB[8].
        var geometry = [Int32(shape.count), contiguous ? 1 : 0, scalarB ? 1 : 0, 0]
        for list in [shape, stridesA, stridesB] {
            geometry += list.map { Int32($0) } + [Int32](repeating: 1, count: 8 - list.count)
        }
        launchElementwise("sbcl_zip", count: count,
                          [.buffer(a), .buffer(b), .buffer(out), .int(count), .int(code), .float(s), .bytes(geometry)])
    }

    package func sum(_ x: TensorStorage, outer: Int, size: Int, inner: Int, into out: TensorStorage) {
        let outputs = outer * inner
        guard outputs > 0 else { return }
        if size == 0 { fill(0, count: outputs, into: out); return }
        // One group per output: a power of two up to 256 items, no wider than the axis needs.
        let width = rowWidth(size)
        launch("sbcl_sum", global: outputs * width, local: width,
               [.buffer(x), .buffer(out), .int(outer), .int(size), .int(inner), .local(width * 4)])
    }

    package func fill(_ value: Float, count: Int, into out: TensorStorage) {
        launchElementwise("sbcl_fill", count: count, [.buffer(out), .int(count), .float(value)])
    }

    package func convertToFloat(_ x: TensorStorage, count: Int, into out: TensorStorage) {
        launchElementwise("sbcl_int_to_float", count: count, [.buffer(x), .buffer(out), .int(count)])
    }
}
