import FerryAPI
import FerryKube
import FerryRepo
import Foundation

/// Records Kubernetes Events (core v1, as `kubectl describe` and `kubectl events` show them) on
/// Ferry's objects: a job started, ended, or ended with warnings or errors. Best effort, as
/// client-go's recorder: an Event that cannot be written is logged and never fails the work.
struct EventRecorder: Sendable {
    enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    let client: KubeClient
    /// The coordinator's identity (the Event's reportingInstance).
    let instance: String
    let log: @Sendable (String) -> Void

    static let component = "ferry-coordinator"
    /// The API server's limit on an Event's message.
    static let messageLimit = 1024

    /// The Events of a job's outcome: Completed (Normal), PartiallyFailed or Failed (Warning,
    /// with its first error), and one Warning per warning (at most `warningLimit`).
    func recordOutcome<S: JobStatus>(_ object: KubeObject, _ status: S) async {
        let phase = status.phase ?? .failed
        let errors = status.errors ?? []
        let summary = errors.first.map {
            "\(object.kind) \(phase.rawValue): \($0)" + (errors.count > 1 ? " (and \(errors.count - 1) more)" : "")
        }
        await record(
            object, phase == .completed ? .normal : .warning, reason: phase.rawValue, message: summary ?? "\(object.kind) \(phase.rawValue)"
        )
        let warnings = status.warnings ?? []
        for warning in warnings.prefix(Self.warningLimit) {
            await record(object, .warning, reason: "Warning", message: warning)
        }
        if warnings.count > Self.warningLimit {
            await record(
                object, .warning, reason: "Warning", message: "\(warnings.count - Self.warningLimit) more warnings in .status.warnings")
        }
    }

    static let warningLimit = 10

    /// Records one Event about `object` (in its namespace; a cluster-scoped object's go to
    /// `default`, as the API server's own do).
    func record(_ object: KubeObject, _ type: EventType, reason: String, message: String) async {
        let now = Date()
        let time = now.formatted(.iso8601)
        let namespace = object.namespace ?? "default"
        var text = message
        if text.utf8.count > Self.messageLimit {
            text = String(decoding: Array(text.utf8.prefix(Self.messageLimit - 3)), as: UTF8.self) + "..."
        }
        var involved: [String: JSONValue] = [
            "apiVersion": .string(object.apiVersion), "kind": .string(object.kind), "name": .string(object.name),
        ]
        if let objectNamespace = object.namespace { involved["namespace"] = .string(objectNamespace) }
        if let uid = object.uid { involved["uid"] = .string(uid) }
        let event = KubeObject(
            apiVersion: "v1", kind: "Event", namespace: namespace,
            name: "\(object.name).\(String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16))\(SecureRandom.hex(2))",
            body: .object([
                "involvedObject": .object(involved),
                "reason": .string(reason), "message": .string(text), "type": .string(type.rawValue),
                "source": .object(["component": .string(Self.component)]),
                "reportingComponent": .string(Self.component), "reportingInstance": .string(instance),
                "firstTimestamp": .string(time), "lastTimestamp": .string(time), "count": .int(1),
            ]))
        do {
            let events = try await client.resource(apiVersion: "v1", kind: "Event")
            _ = try await client.create(events, event, namespace: namespace)
        } catch {
            log("\(object.kind) \(namespace)/\(object.name): cannot record the event \(reason) (\(error))")
        }
    }
}
