import Foundation
import XCTest

/// Every folder under `Tests/` is built and run: a test target of `Package.swift` (or the shared
/// helper target that names it as its path). A folder that is neither never compiles, and its
/// tests never run without anyone noticing.
final class PackageLayoutTests: XCTestCase {
    /// The package's root folder, from this file's place in it.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folders a manifest declares as targets under `Tests/`: each `.testTarget(name: "X"`
    /// (at `Tests/X` unless it gives a path) and each `path: "Tests/Y"`.
    static func declaredTestFolders(in manifest: String) -> Set<String> {
        var folders = Set<String>()
        for pattern in [#"\.testTarget\(\s*name:\s*"([^"]+)""#, #"path:\s*"Tests/([^"/]+)/?""#] {
            let expression = try! NSRegularExpression(pattern: pattern)
            let range = NSRange(manifest.startIndex..., in: manifest)
            for match in expression.matches(in: manifest, range: range) {
                if let name = Range(match.range(at: 1), in: manifest) { folders.insert(String(manifest[name])) }
            }
        }
        return folders
    }

    func testEveryFolderUnderTestsIsATarget() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let declared = Self.declaredTestFolders(in: manifest)
        let tests = Self.root.appendingPathComponent("Tests")
        let folders = try FileManager.default.contentsOfDirectory(atPath: tests.path).filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: tests.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }
        XCTAssertFalse(folders.isEmpty, "no folder found under \(tests.path)")
        let undeclared = folders.filter { !declared.contains($0) }.sorted()
        XCTAssertEqual(undeclared, [], "folders under Tests/ that Package.swift does not build: \(undeclared.joined(separator: ", ")); "
                                       + "declare each as a .testTarget")
    }

    /// The check itself sees a missing declaration.
    func testTheCheckFindsAnUndeclaredFolder() {
        let manifest = """
            .testTarget(name: "EngineTests", dependencies: ["Engine"]),
            .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport"),
            """
        let declared = Self.declaredTestFolders(in: manifest)
        XCTAssertEqual(declared, ["EngineTests", "TestSupport"])
        XCTAssertFalse(declared.contains("LaunchersTests"))
    }
}
