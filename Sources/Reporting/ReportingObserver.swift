import Foundation
import PipelineDSL

/// The CLI's `RunObserver`: a TensorBoard event file per run folder, filled as epochs are
/// recorded, the final test metrics added at the end, then the run's `report.html`.
package final class ReportingObserver: RunObserver, @unchecked Sendable {
    // `writers` is only touched under `lock`.
    private let lock = NSLock()
    private var writers: [String: TensorBoardWriter] = [:]

    /// Creates an observer.
    package init() {}

    package func recorded(_ record: EpochRecord, runDirectory: URL) {
        writer(for: runDirectory)?.add(record)
    }

    package func runFinished(runDirectory: URL, failure: String?) {
        let run = RunRecord(directory: runDirectory)
        let final = RunRecord.headlineMetrics.compactMap { name in run.metric(name).map { (tag: "evaluation/\(name)", value: Float($0)) } }
        if !final.isEmpty {
            let step = run.records.filter { $0.event == "epoch" }.map(\.epoch).max() ?? 0
            writer(for: runDirectory)?.add(step: step, wallTime: Date().timeIntervalSince1970, scalars: final)
        }
        lock.lock()
        writers[runDirectory.path] = nil
        lock.unlock()
        try? RunReportPage.write(run, to: runDirectory.appendingPathComponent(RunRecord.reportFile))
    }

    private func writer(for directory: URL) -> TensorBoardWriter? {
        lock.lock()
        defer { lock.unlock() }
        if let writer = writers[directory.path] { return writer }
        let writer = try? TensorBoardWriter(directory: directory)
        writers[directory.path] = writer
        return writer
    }
}
