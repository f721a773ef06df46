import FerryKubeTestServer
import FerryTestSupport
import Foundation
import Testing

/// The server keeps answering while other tests hold Swift's cooperative pool: real clients
/// (kubectl waits 32 s for discovery) must not time out because a neighbour computes.
@Suite struct ResponsivenessTests {
    @Test func answersWhileEveryCooperativeThreadIsBlocked() async throws {
        try await withServer { server, _ in
            let width = ProcessInfo.processInfo.activeProcessorCount
            let blocked = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let url = "\(server.url)/api"
            // The request goes out from a Dispatch thread once every pool thread is held, and it
            // lets them go whatever the answer, so a server on the pool fails the test, not hang it.
            let answer = Task.detached { () -> (Int32, String) in
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        for _ in 0..<width { blocked.wait() }
                        let result = Self.curl(url, token: server.adminToken)
                        for _ in 0..<width { release.signal() }
                        continuation.resume(returning: result)
                    }
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<width {
                    group.addTask {
                        blocked.signal()
                        release.wait()
                    }
                }
            }
            let (status, body) = await answer.value
            #expect(status == 0, "curl \(url) failed while the pool was blocked: \(body)")
            #expect(body.contains("\"APIVersions\""))
        }
    }

    private static func curl(_ url: String, token: String) -> (Int32, String) {
        let arguments = ["curl", "-sS", "--max-time", "20", "-H", "Authorization: Bearer \(token)", url]
        do {
            let result = try ChildProcess(executable: "/usr/bin/env", arguments: arguments).waitUntilExit()
            return (result.status, result.stdout + result.stderr)
        } catch {
            return (-1, "\(error)")
        }
    }
}
