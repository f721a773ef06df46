import FerryMover
import FerrySystem
import Foundation

/// A progress line on stderr, redrawn a few times a second while a backup or restore runs,
/// shown only when stderr is a terminal.
struct ProgressDisplay {
    let progress: TransferProgress
    let verb: String

    /// Runs `body` with the progress line shown.
    func around<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard Terminal.stderrIsTerminal else { return try await body() }
        let progress = self.progress
        let verb = self.verb
        let started = ContinuousClock.now
        let ticker = Task {
            // A cancelled sleep ends the loop: a line drawn after the clearing below would run
            // into the summary printed next.
            while (try? await Task.sleep(for: .milliseconds(250))) != nil {
                let seconds = (ContinuousClock.now - started).seconds
                let done = progress.completed
                let percent = progress.total > 0 ? Double(done) * 100 / Double(progress.total) : 100
                let line = String(
                    format: "\r%@ %5.1f%%  %@ / %@  %@  stored %@\u{1B}[K", verb, percent,
                    Format.bytes(done), Format.bytes(progress.total), Format.rate(done, seconds: seconds),
                    Format.bytes(progress.bytesStored))
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        ticker.cancel()
        await ticker.value
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        return try outcome.get()
    }
}
