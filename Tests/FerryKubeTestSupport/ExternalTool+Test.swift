import FerryKubeTestServer
import FerryTestSupport
import Testing

extension ExternalTool {
    /// The tool's path. Missing, it skips the test outside CI (reported as skipped, never as
    /// passed) and fails it in CI.
    public func requiredPath(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        if let path = try require() { return path }
        try TestEnvironment.require(false, "\(rawValue) is not installed (scripts/test.sh installs it)", sourceLocation: sourceLocation)
        throw Missing(tool: self)
    }
}
