import FerryTestSupport
import Foundation
import Testing

/// A repository directory and images in a temporary directory, driven through the real `ferry`.
struct CLIFixture {
    let dir: TemporaryDirectory
    let ferry: FerryProcess
    var repo: String { dir.file("repo") }

    init(password: String? = "cli-test-password", initialize: Bool = true, extra: [String] = []) async throws {
        dir = try TemporaryDirectory("ferry-cli")
        ferry = FerryProcess(password: password, extra: ["FERRY_CACHE_DIR": dir.file("cache")])
        if initialize {
            try await expectSuccess(["repo", "init", "--repo", repo] + extra)
        }
    }

    @discardableResult
    func run(_ args: [String]) async throws -> ChildProcess.Result {
        try await ferry.run(args)
    }

    @discardableResult
    func expectSuccess(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> ChildProcess.Result {
        let result = try await ferry.run(args)
        #expect(result.succeeded, "ferry \(args.joined(separator: " ")) failed: \(result)", sourceLocation: sourceLocation)
        if !result.succeeded { throw ChildProcess.Failed(command: ["ferry"] + args, result: result) }
        return result
    }

    /// Runs a command expected to fail: exit status 1, one line on stderr containing `message`.
    @discardableResult
    func expectFailure(_ args: [String], mentioning message: String, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> ChildProcess.Result
    {
        let result = try await ferry.run(args)
        #expect(result.status == 1, "expected failure: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr should mention \"\(message)\": \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "one line on stderr: \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    /// `ferry backup --json` of `path`, parsed.
    func backup(_ path: String, _ extra: [String] = []) async throws -> [String: Any] {
        try await expectSuccess(["backup", path, "--repo", repo, "--json"] + extra).json()
    }

    func restore(_ snapshot: String, to target: String, _ extra: [String] = []) async throws -> ChildProcess.Result {
        try await ferry.run(["restore", snapshot, target, "--repo", repo] + extra)
    }

    func check(_ extra: [String] = []) async throws -> ChildProcess.Result {
        try await ferry.run(["check", "--repo", repo] + extra)
    }

    /// The repository's objects under `prefix`.
    func objects(_ prefix: String) -> [String] {
        let root = dir.file("repo")
        let enumerator = FileManager.default.enumerator(atPath: root + "/" + prefix)
        var names: [String] = []
        while let item = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = root + "/" + prefix + "/" + item
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                !(item as NSString).lastPathComponent.hasPrefix(".")
            {
                names.append(prefix + "/" + item)
            }
        }
        return names.sorted()
    }

    func remove() {
        dir.remove()
    }
}
