/// Images kept as files and decoded when the loader asks (ImageNet-LT, `image_folder`): paths,
/// labels, class names.
public struct ImageFileList: ImageSource, Sendable, Equatable {
    /// Absolute paths, one per image.
    public var paths: [String]
    /// One label per image.
    public var labels: [Int32]
    /// The name of each class.
    public var classNames: [String]
    /// Where each image was listed (split file and 1-based line), for error messages.
    public var origins: [String]

    /// Whether JPEGs may be decoded reduced in the DCT (M/8) when the loader's augmentation needs
    /// fewer pixels than the file holds (`withImage(at:scale:_:)`); false: always full size.
    public var dctScaling: Bool

    /// The pixel and file-size limits every read and decode checks.
    public var limits: ImageLimits

    /// What listing found but did not read, and how many images each class got, as sentences
    /// for the stage's log (entries that are not images, nested folders, duplicated lines):
    /// nothing is left out without a word.
    public var notes: [String] = []

    /// A list of images; `origins[k]` says where image k was listed (`file:line`, or its folder).
    /// Paths are `POSIXName` strings (any bytes a file name holds).
    public init(paths: [String], labels: [Int32], classNames: [String], origins: [String], dctScaling: Bool = true,
                limits: ImageLimits = .process) {
        precondition(paths.count == labels.count && paths.count == origins.count, "ImageFileList: \(paths.count) paths, \(labels.count) labels, \(origins.count) origins")
        self.paths = paths
        self.labels = labels
        self.classNames = classNames
        self.origins = origins
        self.dctScaling = dctScaling
        self.limits = limits
    }

    /// Equal lists name the same images, labels, classes and origins (notes and limits aside:
    /// they are not part of what was read).
    public static func == (a: ImageFileList, b: ImageFileList) -> Bool {
        a.paths == b.paths && a.labels == b.labels && a.classNames == b.classNames && a.origins == b.origins && a.dctScaling == b.dctScaling
    }

    /// The number of images.
    public var count: Int { paths.count }
    /// The number of classes.
    public var classCount: Int { classNames.count }
}
