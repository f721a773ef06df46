import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

extension AgentTests {
    /// `GET url` with curl: the body, or nil while nothing answers (the process is starting).
    func fetch(_ url: String) async throws -> String? {
        let directory = try TemporaryDirectory("ferry-fetch")
        let body = directory.file("body")
        let result = try await ChildProcess.output(["curl", "-sSf", "--max-time", "10", "-o", body, url])
        return result.succeeded ? try String(contentsOfFile: body, encoding: .utf8) : nil
    }

    /// The first answer of `url`, asked until the server is up (at most 100 tries).
    func scrape(_ url: String) async throws -> String {
        for _ in 0..<100 {
            if let body = try await fetch(url) { return body }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "nothing answered at \(url)"])
    }

    /// The coordinator counts Backups and the agent its units, for Prometheus.
    @Test func theCoordinatorAndTheAgentServeMetrics() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let device = "\(cluster.directory)/pv-data.img"
            _ = try writeDevice(device, seed: 102)
            try await install(setup, device: device)
            let (coordinatorPort, agentPort) = (try LoopbackPort.free(), try LoopbackPort.free())
            let coordinator = try coordinator(setup, ["--metrics-address", "127.0.0.1:\(coordinatorPort)"])
            defer { coordinator.kill() }
            let agent = try agent(setup, identity: "agent-1", ["--metrics-address", "127.0.0.1:\(agentPort)"])
            defer { agent.kill() }
            #expect(try await scrape("http://127.0.0.1:\(coordinatorPort)/healthz") == "ok\n")

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            _ = try await setup.released("Backup", namespace: "db", name: "db-1")
            let coordinatorMetrics = try await scrape("http://127.0.0.1:\(coordinatorPort)/metrics")
            #expect(coordinatorMetrics.contains("ferry_backups_total{namespace=\"db\",phase=\"Completed\"} 1\n"), "\(coordinatorMetrics)")
            #expect(coordinatorMetrics.contains("ferry_backup_duration_seconds_count{namespace=\"db\"} 1\n"))
            let stored = try #require(backup["status"]?["bytesStored"]?.intValue)
            #expect(coordinatorMetrics.contains("ferry_backup_stored_bytes_total{namespace=\"db\"} \(stored)\n"))
            let last = coordinatorMetrics.split(separator: "\n").first {
                $0.hasPrefix("ferry_backup_last_success_timestamp_seconds{namespace=\"db\",plan=\"db\"} ")
            }
            let when = try #require(last.flatMap { Double($0.split(separator: " ").last ?? "") })
            #expect(abs(when - Date().timeIntervalSince1970) < 600, "\(last ?? "")")

            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            let read = try #require(unit["status"]?["result"]?["stats"]?["bytesRead"]?.intValue)
            let agentMetrics = try await scrape("http://127.0.0.1:\(agentPort)/metrics")
            #expect(agentMetrics.contains("ferry_agent_units_total{direction=\"Backup\",phase=\"Succeeded\"} 1\n"), "\(agentMetrics)")
            #expect(agentMetrics.contains("ferry_agent_volume_bytes_total{direction=\"Backup\"} \(read)\n"))
            #expect(agentMetrics.contains("ferry_agent_units_running 0"))

            // Requests to the API server, by verb, resource and status, as the server saw them.
            let posted = await cluster.server.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/volumetransfers") }
            #expect(posted.count == 1)
            #expect(
                coordinatorMetrics.contains(
                    "ferry_kube_requests_total{verb=\"create\",resource=\"ferry.dev/volumetransfers\",code=\"201\"} 1\n"),
                "\(coordinatorMetrics)")
            #expect(coordinatorMetrics.contains("ferry_kube_requests_total{verb=\"watch\",resource=\"ferry.dev/backups\",code=\"200\"} "))
            #expect(
                agentMetrics.contains(
                    "ferry_kube_requests_total{verb=\"update\",resource=\"ferry.dev/volumetransfers/status\",code=\"200\"} "))
        }
    }
}
