/// Checks of an array read from a user's file before it is computed with: an empty shape would
/// give an empty (or uninitialised) result, and a NaN or infinity would spread through every
/// output it touches without a word.
extension HostArray {
    /// Throws unless every dimension is at least 1.
    /// - Throws: `TensorFileError.inconsistent` naming `path`, the shape and the empty dimension.
    public func checkNonEmpty(path: String) throws {
        if let axis = shape.firstIndex(of: 0) {
            throw TensorFileError(path: path, kind: .inconsistent,
                                  message: "the array's shape \(shape) has size 0 along axis \(axis): it holds no values to compute with")
        }
    }

    /// Throws when a floating-point element (as float32, what the engine computes in) is NaN or
    /// infinite; integer arrays always pass.
    /// - Throws: `TensorFileError.inconsistent` naming `path`, how many elements are not finite
    ///   and the index of the first.
    public func checkFinite(path: String) throws {
        guard dtype.isFloatingPoint else { return }
        let values = floats()
        guard let first = values.firstIndex(where: { !$0.isFinite }) else { return }
        let bad = values.lazy.filter { !$0.isFinite }.count
        var index: [Int] = []
        var rest = first
        for extent in shape.reversed() {
            index.append(rest % extent)
            rest /= extent
        }
        throw TensorFileError(path: path, kind: .inconsistent,
                              message: "\(bad) of the \(values.count) values are NaN or infinite (as float32); the first is \(values[first]) at index \(Array(index.reversed()))")
    }
}
