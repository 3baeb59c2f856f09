import Foundation
import XCTest

/// `--device opencl|opencl:cpu` as a user meets it: a refusal in one sentence with exit 2 where it
/// cannot be used, the device named by `plan`, and the same hashes on every device.
final class OpenCLDeviceTests: XCTestCase {
    private var cli: CLIHarness!

    override func setUpWithError() throws { cli = try CLIHarness() }
    override func tearDown() { cli.remove() }

    private let recipe = "name: r\nstages:\n  a: {kind: test_source, value: 2}\n"

    /// The `device` object of `plan --json` for `device`.
    private func plannedDevice(_ device: String) throws -> (device: [String: Any], hash: String) {
        let plan = try cli.run(["plan", "r.yaml", "--device", device, "--json"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any])
        let stages = try XCTUnwrap(json["stages"] as? [[String: Any]])
        return (try XCTUnwrap(json["device"] as? [String: Any]), try XCTUnwrap(stages.first?["hash"] as? String))
    }

    func testOpenCLWhereItCannotBeUsedIsExitTwoInOneSentence() throws {
        try cli.write("r.yaml", recipe)
        guard try plannedDevice("opencl").device["usable"] as? Bool == false else {
            throw XCTSkip("this machine has a usable OpenCL GPU")
        }
        let r = try cli.run(["r.yaml", "--device", "opencl"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("device 'opencl' is not usable here: ") && r.stderr.contains("--device cpu"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one sentence: \(r.stderr)")
    }

    func testPlanNamesTheDeviceAndKeepsItOutOfTheHash() throws {
        try cli.write("r.yaml", recipe)
        let cpu = try plannedDevice("cpu")
        XCTAssertEqual(cpu.device["requested"] as? String, "cpu")
        XCTAssertTrue((cpu.device["backend"] as? String)?.hasPrefix("cpu (OpenBLAS") == true, "\(cpu.device)")
        XCTAssertEqual(cpu.device["in_hash"] as? Bool, false)
        let opencl = try plannedDevice("opencl:cpu")
        XCTAssertEqual(opencl.hash, cpu.hash, "the device is in no hash")
        if opencl.device["usable"] as? Bool == true {
            XCTAssertTrue((opencl.device["backend"] as? String)?.hasPrefix("opencl (") == true, "\(opencl.device)")
        }
        let text = try cli.run(["plan", "r.yaml", "--device", "cpu"])
        XCTAssertTrue(text.stdout.contains("device cpu: cpu (OpenBLAS") && text.stdout.contains("not in any hash"), text.stdout)
    }

    /// A machine without OpenCL (the library missing): `opencl:cpu` is refused with exit 2 naming
    /// the library, and `auto` runs on the CPU and says why.
    func testWithoutTheOpenCLLibraryOpenCLIsRefusedAndAutoUsesTheCPU() throws {
        try cli.write("r.yaml", recipe)
        let missing = ["SBCL_OPENCL_LIBRARY": "/nonexistent/libOpenCL.so.1"]
        let (process, out, err) = try cli.start(["r.yaml", "--device", "opencl:cpu"], environment: missing)
        process.waitUntilExit()
        let refused = try cli.collect(process, out, err)
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("device 'opencl:cpu' is not usable here: cannot load /nonexistent/libOpenCL.so.1"),
                      refused.stderr)
        let (autoProcess, autoOut, autoErr) = try cli.start(["r.yaml", "--device", "auto"], environment: missing)
        autoProcess.waitUntilExit()
        let auto = try cli.collect(autoProcess, autoOut, autoErr)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stderr.contains("device auto: using the CPU (cannot load /nonexistent/libOpenCL.so.1"), auto.stderr)
        XCTAssertTrue(auto.stderr.contains("stages, device cpu, "), "the run log names the device that ran: \(auto.stderr)")
    }
}
