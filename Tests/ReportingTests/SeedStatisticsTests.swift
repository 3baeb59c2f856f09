import Foundation
import PipelineDSL
import XCTest
@testable import Reporting

/// The seeds' statistics against numpy and scipy: `scripts/stats/check_welch.py` computed mean,
/// sample sd, Welch's t, the Welch–Satterthwaite df and the two-sided p on recorded fidelity
/// metrics and a few edge cases, and committed them in `scripts/stats/welch_reference.json`.
final class SeedStatisticsTests: TemporaryFolderTestCase {
    struct Reference: Decodable {
        struct Summary: Decodable { var n: Int, mean: Double, sd: Double, min: Double, max: Double }
        struct Case: Decodable {
            var name: String, a: [Double], b: [Double]
            var summary_a: Summary, summary_b: Summary
            var difference: Double, standard_error: Double, t: Double, df: Double, p: Double, t_cdf: Double
        }
        var cases: [Case]
    }

    static func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/stats/welch_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testWelchMatchesSciPy() throws {
        let reference = try Self.reference()
        XCTAssertGreaterThanOrEqual(reference.cases.count, 8)
        for c in reference.cases {
            let a = try XCTUnwrap(SeedStatistics.Summary(c.a)), b = try XCTUnwrap(SeedStatistics.Summary(c.b))
            for (ours, theirs) in [(a, c.summary_a), (b, c.summary_b)] {
                XCTAssertEqual(ours.n, theirs.n, c.name)
                XCTAssertEqual(ours.mean, theirs.mean, accuracy: 1e-9, c.name)
                XCTAssertEqual(try XCTUnwrap(ours.sd), theirs.sd, accuracy: 1e-9, c.name)
                XCTAssertEqual(ours.min, theirs.min, c.name)
                XCTAssertEqual(ours.max, theirs.max, c.name)
            }
            let welch = try XCTUnwrap(SeedStatistics.welch(a, b))
            XCTAssertEqual(welch.difference, c.difference, accuracy: 1e-9, c.name)
            XCTAssertEqual(welch.standardError, c.standard_error, accuracy: 1e-9, c.name)
            XCTAssertEqual(welch.t, c.t, accuracy: 1e-9 * max(1, abs(c.t)), c.name)
            XCTAssertEqual(welch.df, c.df, accuracy: 1e-9 * max(1, c.df), c.name)
            XCTAssertEqual(welch.p, c.p, accuracy: max(1e-9, 1e-6 * c.p), c.name)
            XCTAssertEqual(SeedStatistics.studentTCDF(welch.t, df: welch.df), c.t_cdf, accuracy: 1e-9, c.name)
        }
    }

    func testStudentTAndIncompleteBetaKnownValues() {
        // Textbook values: the 97.5 % quantile of t with 1, 5 and 30 df; I_x(a, b) identities.
        XCTAssertEqual(SeedStatistics.studentTCDF(12.706204736, df: 1), 0.975, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.studentTCDF(2.570581836, df: 5), 0.975, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.studentTCDF(-2.042272456, df: 30), 0.025, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.studentTCDF(0, df: 7.3), 0.5, accuracy: 1e-15)
        XCTAssertEqual(SeedStatistics.regularizedIncompleteBeta(0.3, a: 1, b: 1), 0.3, accuracy: 1e-14)
        XCTAssertEqual(SeedStatistics.regularizedIncompleteBeta(0.3, a: 2, b: 1), 0.09, accuracy: 1e-14)
        XCTAssertEqual(SeedStatistics.regularizedIncompleteBeta(0.7, a: 2.5, b: 4) + SeedStatistics.regularizedIncompleteBeta(0.3, a: 4, b: 2.5),
                       1, accuracy: 1e-13)
        XCTAssertNil(SeedStatistics.welch(SeedStatistics.Summary([1])!, SeedStatistics.Summary([1, 2])!), "one seed has no spread")
        XCTAssertEqual(SeedStatistics.verdict(nil), "too few seeds to tell")
    }

    /// The grouped comparison of fixture runs carrying the reference's values equals scipy's figures.
    func testGroupedComparisonCarriesTheReferenceFigures() throws {
        let c = try XCTUnwrap(try Self.reference().cases.first { $0.name == "short top1: ours supcon − ours rank" })
        var runs: [RunRecord] = []
        for (variant, values) in [("rank", c.a), ("supcon", c.b)] {
            for (seed, value) in values.enumerated() {
                let fixture = try RunFolderFixture(in: root, name: "\(variant)-\(seed)",
                                                   parameters: ["seed": .int(seed), "stages.loss.variant": .string(variant)], top1: value)
                runs.append(RunRecord(directory: fixture.directory))
            }
        }
        let groups = try SeedGroups(runs)
        XCTAssertEqual(groups.keys, ["stages.loss.variant"], "the seed is not a grouping key by default")
        XCTAssertEqual(groups.groups.map(\.label), ["stages.loss.variant=rank", "stages.loss.variant=supcon"])
        XCTAssertEqual(groups.groups.map(\.n), [5, 5])
        let top1 = try XCTUnwrap(groups.differences.first { $0.metric == "top1" })
        XCTAssertEqual(try XCTUnwrap(top1.welch?.t), c.t, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(top1.welch?.p), c.p, accuracy: 1e-9)
        XCTAssertEqual(top1.verdict, c.p >= 0.05 ? "within the noise" : "beyond the noise (p < 0.05)")
        let text = groups.text
        XCTAssertTrue(text.contains(String(format: "%.2f ± %.2f", c.summary_a.mean, c.summary_a.sd)), text)
        XCTAssertTrue(text.contains(String(format: "%.4f", c.p)), text)
        XCTAssertTrue(groups.markdown.contains("| top1 | stages.loss.variant=rank | stages.loss.variant=supcon |"), groups.markdown)
        let csv = groups.csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(csv[0], "row,group,baseline,metric,n,mean,sd,min,max,difference,se,t,df,p,reading,seeds,failed_seeds,missing_seeds")
        XCTAssertTrue(csv.contains { $0.hasPrefix("difference,stages.loss.variant=supcon,stages.loss.variant=rank,top1,") && $0.contains(String(format: "%.6f", c.t)) })
        let json = try XCTUnwrap(groups.json.mapValue)
        let first = try XCTUnwrap(json["groups"]?.listValue?.first?.mapValue?["metrics"]?.mapValue?["top1"]?.mapValue)
        XCTAssertEqual(try XCTUnwrap(first["sd"]?.doubleValue), c.summary_a.sd, accuracy: 1e-9)
        XCTAssertThrowsError(try SeedGroups(runs, baseline: "ccl")) { error in
            XCTAssertEqual((error as? UsageError)?.message,
                           "--baseline 'ccl' names no group; the groups are: 'stages.loss.variant=rank', 'stages.loss.variant=supcon'")
        }
        XCTAssertEqual(try SeedGroups(runs, baseline: "supcon").differences.map { "\($0.baseline)-\($0.group)" }.first, "1-0")
    }

    /// A group lacking seeds says n and which seeds: a failed run and a seed never run are named
    /// and not averaged.
    func testMissingAndFailedSeedsAreNamedNotAveraged() throws {
        var runs: [RunRecord] = []
        for seed in 0..<3 {
            runs.append(RunRecord(directory: try RunFolderFixture(in: root, name: "rank-\(seed)", parameters: ["seed": .int(seed)],
                                                                   top1: 60 + Double(seed)).directory))
        }
        let supcon: [String: ParamValue] = ["stages.loss.variant": .string("supcon")]
        runs.append(RunRecord(directory: try RunFolderFixture(in: root, name: "supcon-0", parameters: supcon.merging(["seed": .int(0)]) { $1 },
                                                               top1: 50).directory))
        runs.append(RunRecord(directory: try RunFolderFixture(in: root, name: "supcon-1", parameters: supcon.merging(["seed": .int(1)]) { $1 },
                                                               evaluated: false).directory))
        let groups = try SeedGroups(runs)
        XCTAssertEqual(groups.allSeeds, [0, 1, 2])
        let group = groups.groups[1]
        XCTAssertEqual(group.n, 1)
        XCTAssertEqual(group.seeds, [0])
        XCTAssertEqual(group.failed.map(\.seed), [1])
        XCTAssertEqual(group.missing, [2])
        XCTAssertEqual(group.metrics["top1"]?.values, [50], "the failed seed is not averaged in")
        XCTAssertEqual(groups.gaps, ["stages.loss.variant=supcon: n=1; seed 1 failed (stage 'classifier' (classifier) failed: killed); "
                                     + "no run for seed 2 (not averaged)"])
        XCTAssertTrue(groups.text.contains("missing: stages.loss.variant=supcon: n=1"), groups.text)
        XCTAssertEqual(groups.differences.first?.verdict, "too few seeds to tell")
        let json = try XCTUnwrap(groups.json.mapValue?["groups"]?.listValue?[1].mapValue)
        XCTAssertEqual(json["missing_seeds"], .list([.int(2)]))
        XCTAssertEqual(json["failed_seeds"]?.listValue?.first?.mapValue?["seed"], .int(1))
        let page = ComparisonPage.html(RunComparison(runs), groups: groups)
        XCTAssertTrue(page.contains("Missing or failed seeds"), page)
        XCTAssertTrue(page.contains("Over seeds"))
    }

    /// A seeded sweep's page labels every run by its own values of the swept keys (`0,rank`,
    /// `0,supcon`, `1,rank`), not by what differs from the first run (which gave `supcon`, `1`).
    func testEveryRunIsLabelledByItsSweptValues() throws {
        var runs: [RunRecord] = []
        for seed in 0..<2 {
            for variant in ["rank", "supcon"] {
                let overrides = ["seed=\(seed)", "stages.loss.variant=\(variant)"]
                runs.append(RunRecord(directory: try RunFolderFixture(in: root, name: "\(seed)-\(variant)",
                                                                       parameters: ["seed": .int(seed), "stages.loss.variant": .string(variant)],
                                                                       overrides: overrides, top1: 60 + Double(seed)).directory))
            }
        }
        let comparison = RunComparison(runs)
        XCTAssertEqual(comparison.keys, ["seed", "stages.loss.variant"])
        XCTAssertEqual(comparison.rows.enumerated().map { ComparisonPage.label($1, index: $0, keys: comparison.keys) },
                       ["0,rank", "0,supcon", "1,rank", "1,supcon"])
        let page = ComparisonPage.html(comparison, groups: try SeedGroups(runs))
        for label in ["0,rank", "0,supcon", "1,rank", "1,supcon"] { XCTAssertTrue(page.contains(">\(label)<"), "legend '\(label)' missing") }
    }
}
