import ArgumentParser
import Foundation

/// `ferry pause`: does nothing until terminated. The coordinator's snapshot-exposing pods run it
/// (so the kubelet attaches the snapshot's volume on a node) without needing another image.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Sleep until terminated (the process of snapshot-exposing pods).", shouldDisplay: false)

    func run() async throws {
        signal(SIGTERM, SIG_DFL)
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
