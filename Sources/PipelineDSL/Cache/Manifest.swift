import Crypto
import Foundation

/// A file of a cache entry: its path inside `files/`, size and SHA-256.
public struct FileDigest: Sendable, Equatable {
    /// Path relative to the entry's `files/` folder.
    public var path: String
    /// Size in bytes.
    public var size: Int
    /// Lowercase hex SHA-256.
    public var sha256: String
}

/// What a cache entry records about itself (`manifest.json`).
public struct Manifest: Sendable {
    /// The stage hash (the entry's folder name).
    public var hash: String
    /// The stage kind.
    public var kind: String
    /// The kind's version.
    public var version: Int
    /// The name of the stage that produced it (informational; not part of the hash).
    public var stageName: String
    /// Resolved parameters.
    public var parameters: ParamValue
    /// The inputs' hashes.
    public var inputHashes: [String]
    /// Every artifact file.
    public var files: [FileDigest]
    /// When the entry was completed (ISO 8601, UTC).
    public var createdAt: String
    /// Seconds the stage ran in the process that completed it.
    public var seconds: Double
    /// The engine version string the executor was given.
    public var engineVersion: String
    /// The backend (device) it ran on.
    public var backend: String
    /// Metrics the stage recorded.
    public var metrics: [String: ParamValue]
    /// What the entry was computed with, as the caller of the executor described it
    /// (`ExecutorOptions.environment`; `sbcl-run` records `kernel_set`, `cpu` and `threads`).
    /// Provenance only: it is in no hash, so an entry computed on another CPU or with other
    /// kernels is reused — such results differ by floating-point rounding, not in meaning.
    /// Empty for entries written before it existed (their manifests have no `environment`).
    public var environment: [String: String]

    /// The manifest as a JSON value.
    public var value: ParamValue {
        .map([
            "hash": .string(hash), "kind": .string(kind), "version": .int(version), "stage_name": .string(stageName),
            "params": parameters, "input_hashes": .list(inputHashes.map(ParamValue.string)),
            "files": .list(files.map { .map(["path": .string($0.path), "size": .int($0.size), "sha256": .string($0.sha256)]) }),
            "created_at": .string(createdAt), "seconds": .float(seconds), "engine_version": .string(engineVersion),
            "backend": .string(backend), "metrics": .map(metrics), "environment": .map(environment.mapValues(ParamValue.string)),
        ])
    }

    /// Reads a manifest from its JSON value; nil when a field is missing or has the wrong type.
    /// `environment` is optional (older manifests lack it); of its entries only strings are kept.
    public init?(_ value: ParamValue) {
        guard let map = value.mapValue,
              let hash = map["hash"]?.stringValue, let kind = map["kind"]?.stringValue,
              let version = map["version"]?.intValue, let stageName = map["stage_name"]?.stringValue,
              let parameters = map["params"], let inputs = map["input_hashes"]?.listValue,
              let files = map["files"]?.listValue, let createdAt = map["created_at"]?.stringValue,
              let seconds = map["seconds"]?.doubleValue, let engineVersion = map["engine_version"]?.stringValue,
              let backend = map["backend"]?.stringValue, let metrics = map["metrics"]?.mapValue else { return nil }
        var digests: [FileDigest] = []
        for file in files {
            guard let entry = file.mapValue, let path = entry["path"]?.stringValue, let size = entry["size"]?.intValue,
                  let sha = entry["sha256"]?.stringValue else { return nil }
            digests.append(FileDigest(path: path, size: size, sha256: sha))
        }
        self.init(hash: hash, kind: kind, version: version, stageName: stageName, parameters: parameters,
                  inputHashes: inputs.compactMap(\.stringValue), files: digests, createdAt: createdAt, seconds: seconds,
                  engineVersion: engineVersion, backend: backend, metrics: metrics,
                  environment: (map["environment"]?.mapValue ?? [:]).compactMapValues(\.stringValue))
    }

    /// Creates a manifest.
    public init(hash: String, kind: String, version: Int, stageName: String, parameters: ParamValue, inputHashes: [String],
                files: [FileDigest], createdAt: String, seconds: Double, engineVersion: String, backend: String,
                metrics: [String: ParamValue], environment: [String: String] = [:]) {
        self.hash = hash
        self.kind = kind
        self.version = version
        self.stageName = stageName
        self.parameters = parameters
        self.inputHashes = inputHashes
        self.files = files
        self.createdAt = createdAt
        self.seconds = seconds
        self.engineVersion = engineVersion
        self.backend = backend
        self.metrics = metrics
        self.environment = environment
    }
}

/// SHA-256 over data fed in pieces.
struct IncrementalSHA256 {
    private var hasher = SHA256()

    mutating func update(_ data: Data) { hasher.update(data: data) }

    func finalize() -> String { Planner.hex(hasher.finalize()) }
}
