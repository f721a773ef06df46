import ArgumentParser
import Foundation

/// The `ferry` command: local backup and restore of volumes and disk images, repository tools,
/// and (with the cluster pieces) the agent, the coordinator and cluster tools.
@main
struct Ferry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Back up and restore block volumes, VM disks and Kubernetes applications.",
        version: "0.1.0",
        subcommands: [
            RepoCommand.self,
            BackupCommand.self,
            RestoreCommand.self,
            MountCommand.self,
            ServeNBDCommand.self,
            SnapshotsCommand.self,
            CheckCommand.self,
            StatsCommand.self,
            ForgetCommand.self,
            PruneCommand.self,
            KeyCommand.self,
            PlanCommand.self,
            AppCommand.self,
            CoordinatorCommand.self,
            AgentCommand.self,
            ClusterCommand.self,
            PauseCommand.self,
        ])

    /// Parses and runs a command; a failure is one line on stderr and exit status 1 (usage
    /// errors keep ArgumentParser's own messages and status).
    static func main() async {
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error as ValidationError {
            exit(withError: error)
        } catch  where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // `ferry help` and `--help` on commands with subcommands run ArgumentParser's own help
            // command, which throws its internal CommandError for it to print.
            exit(withError: error)
        } catch {
            Terminal.error("ferry: \(error)")
            Foundation.exit(1)
        }
    }
}
