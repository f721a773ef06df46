import ArgumentParser
import Foundation

/// `ferry pause`: does nothing until terminated. The coordinator's snapshot-exposing pods run it
/// (so the kubelet attaches the snapshot's volume on a node) without needing another image.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Sleep until terminated (the process of snapshot-exposing pods).", shouldDisplay: false)

    func run() async throws {
        // A container's first process gets no default action for signals: SIGTERM must be
        // handled, or the pod only ends when its grace period is over (SIGKILL).
        for terminating in [SIGTERM, SIGINT] {
            signal(terminating) { _ in _exit(0) }
        }
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
