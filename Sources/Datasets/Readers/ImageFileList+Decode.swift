import Foundation

extension ImageFileList {
    /// Wraps `body`'s `DatasetError` so it also names the line (or folder) that listed image `index`.
    private func naming<R>(_ index: Int, _ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as DatasetError {
            throw DatasetError(error.kind, path: paths[index], "\(error.message) (listed at \(origins[index]))")
        }
    }

    /// The full-size (height, width) of image `index` from its header alone (JPEG SOF or PNG
    /// IHDR); no pixels are decoded.
    ///
    /// - Throws: `.missingFile` or `.decodeFailed` naming the image and the line that listed it.
    public func imageSize(at index: Int) throws -> (height: Int, width: Int) {
        try naming(index) {
            let bytes = try FileBytes.read(paths[index], limits: limits)
            if PNGDecoder.isPNG(bytes) { return try PNGDecoder.header(bytes, path: paths[index], limits: limits) }
            let header = try JPEGDecoder.header(bytes, path: paths[index], limits: limits)
            return (header.height, header.width)
        }
    }

    /// Decodes image `index` (JPEG or PNG, by content) to RGB at full size.
    ///
    /// - Throws: `.missingFile` or `.decodeFailed` naming the image and the line that listed it.
    public func decode(at index: Int) throws -> DecodedImage {
        try decode(at: index, scale: { _, _ in 8 }).image
    }

    /// Decodes image `index` to RGB; for a JPEG (when `dctScaling`) at the scale M/8 that
    /// `scale` picks from the full size (height, width), read from the header first. PNGs and
    /// unscaled lists decode at full size whatever `scale` says. Returns the image and the full size.
    ///
    /// - Throws: `.missingFile` or `.decodeFailed` naming the image and the line that listed it.
    public func decode(at index: Int, scale: (_ height: Int, _ width: Int) -> Int) throws
        -> (image: DecodedImage, fullHeight: Int, fullWidth: Int) {
        try naming(index) {
            let path = paths[index]
            let bytes = try FileBytes.read(path, limits: limits)
            if PNGDecoder.isPNG(bytes) {
                let image = try PNGDecoder.decode(bytes, path: path, limits: limits).rgb()
                _ = scale(image.height, image.width)
                return (image, image.height, image.width)
            }
            guard JPEGDecoder.isJPEG(bytes) else {
                throw DatasetError(.decodeFailed, path: path, "neither a JPEG nor a PNG (the file starts with \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))")
            }
            let header = try JPEGDecoder.header(bytes, path: path, limits: limits)
            let numerator = dctScaling ? min(8, max(1, scale(header.height, header.width))) : 8
            if !dctScaling { _ = scale(header.height, header.width) }
            let image = try JPEGDecoder.decode(bytes, path: path, scaleNumerator: numerator, limits: limits).rgb()
            return (image, header.height, header.width)
        }
    }

    /// Decodes image `index` at full size and lends its RGB pixels to `body`.
    public func withImage<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, Int, Int, Int) throws -> R) throws -> R {
        let image = try decode(at: index)
        return try image.pixels.withUnsafeBufferPointer { try body($0, image.height, image.width, image.channels) }
    }

    /// Decodes image `index` at the DCT scale `scale` picks from its full size and lends the RGB
    /// pixels to `body` with the full size (see `ImageSource.withImage(at:scale:_:)`).
    public func withImage<R>(at index: Int, scale: (_ height: Int, _ width: Int) -> Int,
                             _ body: (ScaledImage) throws -> R) throws -> R {
        let decoded = try decode(at: index, scale: scale)
        return try decoded.image.pixels.withUnsafeBufferPointer { p in
            try body(ScaledImage(pixels: p, height: decoded.image.height, width: decoded.image.width, channels: decoded.image.channels,
                                 fullHeight: decoded.fullHeight, fullWidth: decoded.fullWidth))
        }
    }

    /// Checks that every listed image exists (not that it decodes); the planner calls this at
    /// plan time so a run does not fail hours in.
    ///
    /// - Throws: `.missingFile` for the first missing image, naming the split file and its line.
    public func checkFilesExist() throws {
        for (k, path) in paths.enumerated() {
            if case .success = FileBytes.status(path) { continue }
            let origin = origins[k]
            if let colon = origin.lastIndex(of: ":"), let line = Int(origin[origin.index(after: colon)...]) {
                throw DatasetError(.missingFile, path: String(origin[..<colon]), line: line, "the image \(path) does not exist")
            }
            throw DatasetError(.missingFile, path: path, "the image does not exist (listed in \(origin))")
        }
    }
}
