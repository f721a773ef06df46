import FerryTestSupport
import Foundation

@testable import ferry

/// `ferry coordinator` or `ferry agent` run inside the test process: the chart's command line
/// parsed by the CLI's own parser, the pod's environment given explicitly (none of the test
/// process's own), the work a task that `kill()` cancels. Quick to start and to debug; faults
/// that need a process of their own (SIGSTOP at a fault point, SIGKILL) stay with the binary.
final class InProcessFerry: Sendable {
    private let task: Task<Void, any Error>

    /// `arguments` as the chart renders them: `coordinator` then its flags.
    convenience init(coordinator arguments: [String], environment: [String: String]) throws {
        let command = try CoordinatorCommand.parse(Array(Self.flags(arguments, subcommand: "coordinator")))
        let coordinator = try command.coordinator(environment: environment, metrics: nil) {}
        self.init { try await coordinator.run() }
    }

    /// `arguments` as the chart renders them: `agent` then its flags.
    convenience init(agent arguments: [String], environment: [String: String]) throws {
        let command = try AgentCommand.parse(Array(Self.flags(arguments, subcommand: "agent")))
        let agent = try command.agent(environment: environment, metrics: nil)
        self.init { try await agent.run() }
    }

    private init(_ work: @escaping @Sendable () async throws -> Void) {
        task = Task { try await work() }
    }

    deinit { task.cancel() }

    /// Ends the work, as the process's SIGKILL would end the binary's.
    func kill() { task.cancel() }

    private static func flags(_ arguments: [String], subcommand: String) throws -> ArraySlice<String> {
        guard arguments.first == subcommand else {
            throw CLIError("the chart's command line does not start with \(subcommand): \(arguments)")
        }
        return arguments.dropFirst()
    }
}

/// A coordinator or agent a test started; `end()` stops it at once.
protocol ClusterProcess: Sendable {
    func end()
}

extension ChildProcess: ClusterProcess {
    func end() { kill() }
}

extension InProcessFerry: ClusterProcess {
    func end() { kill() }
}

/// How a test runs Ferry's cluster processes: as the real binary, or inside the test process.
enum Launch: String, CaseIterable, Sendable, CustomStringConvertible {
    case binary
    case inProcess

    var description: String { rawValue }

    func coordinator(_ setup: CoordinatorTests.Setup, identity: String = "coordinator", _ extra: [String] = []) throws -> any ClusterProcess
    {
        switch self {
        case .binary: try setup.coordinator(identity: identity, extra)
        case .inProcess: try setup.coordinatorInProcess(identity: identity, extra)
        }
    }

    func agent(_ setup: CoordinatorTests.Setup, identity: String, node: String = "node-1", _ extra: [String] = []) throws
        -> any ClusterProcess
    {
        switch self {
        case .binary: try setup.agent(identity: identity, node: node, extra)
        case .inProcess: try setup.agentInProcess(identity: identity, node: node, extra)
        }
    }
}
