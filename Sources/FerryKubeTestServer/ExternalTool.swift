import Foundation

/// The real Kubernetes tools tests use (`helm`, `kubectl` against the test server;
/// `kubernetes-validate` on rendered manifests), found through FERRY_HELM / FERRY_KUBECTL /
/// FERRY_KUBERNETES_VALIDATE, then the layer `scripts/lib/deps.sh` unpacks, then PATH.
public enum ExternalTool: String, Sendable {
    case helm
    case kubectl
    case kubernetesValidate = "kubernetes-validate"

    /// Where `scripts/lib/deps.sh` unpacks the aws-cdk kubectl layer (helm/helm, kubectl/kubectl):
    /// `$FERRY_TOOLS_DIR/kubectl-layer`, by default under /opt/ferry-tools.
    public static var layerDirectory: String {
        (ProcessInfo.processInfo.environment["FERRY_TOOLS_DIR"] ?? "/opt/ferry-tools") + "/kubectl-layer"
    }

    public var path: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["FERRY_\(rawValue.uppercased().replacingOccurrences(of: "-", with: "_"))"],
            FileManager.default.isExecutableFile(atPath: explicit)
        {
            return explicit
        }
        let layer = "\(Self.layerDirectory)/\(rawValue)/\(rawValue)"
        if FileManager.default.isExecutableFile(atPath: layer) { return layer }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(rawValue)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public struct Missing: Error, CustomStringConvertible {
        public var tool: ExternalTool
        public init(tool: ExternalTool) { self.tool = tool }
        public var description: String {
            "\(tool.rawValue) not found (set FERRY_\(tool.rawValue.uppercased().replacingOccurrences(of: "-", with: "_"))"
                + ", or run scripts/test.sh which installs it)"
        }
    }

    /// The tool's path; nil (after printing why the test is skipped) when it is missing outside
    /// CI. With CI=true a missing tool is an error.
    public func require() throws -> String? {
        if let path { return path }
        if ProcessInfo.processInfo.environment["CI"] == "true" { throw Missing(tool: self) }
        print("skipping: \(Missing(tool: self))")
        return nil
    }

    /// Runs the tool to completion; returns its status and combined output. The wait happens on
    /// a Dispatch thread, so an in-process test server keeps the cooperative pool.
    public func run(_ arguments: [String], environment extra: [String: String] = [:], path: String) async throws -> (
        status: Int32, output: String
    ) {
        try await Self.offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            for (key, value) in extra { environment[key] = value }
            process.environment = environment
            // Output to a file, not a pipe: a long-lived child another test starts meanwhile
            // inherits open descriptors and would keep a pipe's end from ever coming.
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-tool-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: output) }
            let handle = try FileHandle(forWritingTo: output)
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                try? handle.close()
                throw error
            }
            try? handle.close()
            process.waitUntilExit()
            let data = (try? Data(contentsOf: output)) ?? Data()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    /// Runs blocking work (waiting for a child process) on a Dispatch thread.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
