import Synchronization

/// The limits that keep a hostile or broken data file from exhausting memory or time: the pixels
/// an image header may claim, and the bytes a data file (or an inflated stream) may hold.
///
/// Libraries never read the environment: an executable reads `environmentVariable` (through
/// `init(environment:)`) and sets `process` once at start; readers take `process` as their default.
/// See docs/hostile-inputs.md.
public struct ImageLimits: Sendable, Equatable {
    /// The most pixels (height × width) an image header may claim before anything is allocated.
    public var maxPixels: Int
    /// The most bytes a data file may hold, and the most a compressed stream may inflate to when
    /// its header says nothing tighter.
    public var maxFileBytes: Int

    /// Pillow's `Image.MAX_IMAGE_PIXELS` (89,478,485, a 0.25 GiB RGBA image), the default limit.
    public static let defaultMaxPixels = 89_478_485
    /// 4 GiB: larger than any file of the data sets we read (CIFAR-100's python training file is
    /// 155 MB), far below what would exhaust memory on a training machine.
    public static let defaultMaxFileBytes = 4 << 30

    /// The variable executables read to change `maxPixels` (a positive integer).
    public static let environmentVariable = "SBCL_MAX_IMAGE_PIXELS"

    /// Limits of `maxPixels` pixels per image and `maxFileBytes` bytes per file.
    public init(maxPixels: Int = ImageLimits.defaultMaxPixels, maxFileBytes: Int = ImageLimits.defaultMaxFileBytes) {
        self.maxPixels = maxPixels
        self.maxFileBytes = maxFileBytes
    }

    /// The defaults, with `maxPixels` from `environment[environmentVariable]` when it is set.
    ///
    /// - Throws: `.badParameter` naming the variable when its value is not a positive integer.
    public init(environment: [String: String]) throws {
        self.init()
        guard let text = environment[ImageLimits.environmentVariable], !text.isEmpty else { return }
        guard let value = Int(text.trimmed(of: " \t")), value > 0 else {
            throw DatasetError(.badParameter, path: "",
                               "\(ImageLimits.environmentVariable)=\(text) is not a positive integer (the most pixels an image may have; default \(ImageLimits.defaultMaxPixels))")
        }
        maxPixels = value
    }

    private static let shared = Mutex(ImageLimits())

    /// The limits readers use when the caller passes none; executables set it once at start.
    public static var process: ImageLimits {
        get { shared.withLock { $0 } }
        set { shared.withLock { $0 = newValue } }
    }

    /// Checks a header's claimed size before anything is allocated for it.
    ///
    /// - Throws: `.tooLarge` naming `path`, the claimed size and the limit (`.decodeFailed` for a
    ///   side of 0).
    public func checkImage(height: Int, width: Int, path: String, format: String) throws {
        guard height > 0, width > 0 else {
            throw DatasetError(.decodeFailed, path: path, "the \(format) header claims \(width)×\(height) pixels; an image needs at least one pixel")
        }
        let (pixels, overflow) = height.multipliedReportingOverflow(by: width)
        guard !overflow, pixels <= maxPixels else {
            throw DatasetError(.tooLarge, path: path,
                               "the \(format) header claims \(width)×\(height) pixels, more than the limit of \(maxPixels) (\(ImageLimits.environmentVariable) raises it)")
        }
    }
}

extension String {
    fileprivate func trimmed(of set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
