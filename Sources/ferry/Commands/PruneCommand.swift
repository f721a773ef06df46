import ArgumentParser
import FerryRepo
import Foundation

/// `ferry prune`: frees the space of data no snapshot references.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove data that no snapshot references.",
        discussion: """
            Two phases, safe while backups run: unreferenced chunks are marked first, and their \
            packs are deleted only once every backup that was running at the mark has finished \
            (in this run when none was running, otherwise in a later run). One prune at a time.
            """)

    @OptionGroup var repository: RepositoryOptions

    @Flag(name: .long, help: "Show what would be done without changing anything.")
    var dryRun = false

    @Option(name: .long, help: ArgumentHelp("Rewrite a pack when more than this percentage of it is unused (0-100).", valueName: "percent"))
    var maxUnused: Double = 20

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Remove what interrupted writers left (temporary files, incomplete S3 multipart uploads) once this old (e.g. 24h, 7d). "
                + "A value shorter than the longest running backup can break that backup.", valueName: "duration"))
    var abandonedAfter = "24h"

    @Flag(name: .long, help: "Print a JSON object of what was done.")
    var json = false

    func run() async throws {
        guard maxUnused >= 0 && maxUnused <= 100 else { throw ValidationError("--max-unused takes a percentage from 0 to 100") }
        guard let abandoned = RetentionDuration(abandonedAfter) else {
            throw ValidationError("--abandoned-after takes a span like 24h, 7d or 0h")
        }
        let store = try repository.store()
        let credential = try repository.credential()
        // Open once to check the credential and report a wrong password before taking the lock.
        _ = try await Repository.open(store: store, credential: credential, loadIndex: false)
        let json = self.json
        let report = try await Pruner(
            store: store, credential: credential, cache: repository.cache, maxUnused: maxUnused / 100, dryRun: dryRun,
            abandonedBefore: abandoned.subtracted(from: Date(), calendar: Calendar(identifier: .gregorian))
        ) { line in
            if !json { Terminal.error(line) }
        }.run()
        for problem in report.sessionProblems { Terminal.error("warning: \(problem)") }
        if json {
            try Terminal.json(report)
            return
        }
        let unused =
            report.unusedChunksKept > 0 ? ", \(Format.bytes(report.unusedBytesKept)) unused left in packs under the --max-unused share" : ""
        Terminal.output(
            """
            \(dryRun ? "dry run: " : "")\(report.chunksMarked) chunks marked, \(report.marksSwept) mark(s) swept, \
            \(report.chunksRevived) revived; \(report.packsDeleted) packs deleted, \
            \(report.packsRewritten) rewritten into \(report.packsWritten); \
            \(Format.bytes(report.bytesReclaimed)) reclaimed\(unused); \
            index objects \(report.indexObjectsBefore) -> \(report.indexObjectsAfter)\
            \(report.marksWaiting > 0 ? "; \(report.marksWaiting) mark(s) waiting for running backups" : "")
            """)
        if report.retentionExtended + report.versionsReclaimed + report.versionsRetained > 0 {
            Terminal.output(
                """
                Object Lock: \(report.retentionExtended) retention(s) extended, \(report.versionsReclaimed) expired version(s) deleted \
                (\(Format.bytes(report.versionBytesReclaimed))), \(report.versionsRetained) deleted version(s) still locked
                """)
        }
    }
}
