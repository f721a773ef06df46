import ArgumentParser
import FerryRepo

/// `ferry check`: verifies the repository's structure and optionally its data.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the repository for damage.",
        discussion: "Exits with status 1 and names every damaged object when it finds a problem.")

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Flag(name: .long, help: "Read every pack and verify every chunk.")
    var readData = false

    @Option(name: .long, help: ArgumentHelp("Read and verify a random N% of the packs.", valueName: "N%"))
    var readDataSubset: String?

    func run() async throws {
        var dataCheck = RepositoryChecker.DataCheck.none
        if readData { dataCheck = .all }
        if let text = readDataSubset {
            let digits = text.hasSuffix("%") ? String(text.dropLast()) : text
            guard !readData, let percent = Double(digits), percent > 0, percent <= 100 else {
                throw ValidationError("--read-data-subset takes a percentage in (0, 100], and not together with --read-data")
            }
            dataCheck = .subset(percent / 100)
        }
        // The check reads every index object from the store: a cached index would hide damage.
        var options = repository
        options.noCache = true
        let repo = try await options.open(pointInTime: try pointInTime.time())
        let report = try await RepositoryChecker(repository: repo, dataCheck: dataCheck).run()
        for note in report.notes { Terminal.error("note: \(note)") }
        for error in report.errors { Terminal.error("error: \(error)") }
        let summary =
            """
            \(report.snapshots) snapshots, \(report.packs) packs (\(report.packsRead) read, \
            \(report.chunksVerified) chunks verified), \(report.indexObjects) index objects
            """
        if report.isClean {
            Terminal.output("no errors found: \(summary)")
        } else {
            throw CLIError("repository damaged: \(report.errors.count) error(s) in \(summary)")
        }
    }
}
