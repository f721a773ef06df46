import FerryKube
import Foundation

/// A pod's row as kube-apiserver's `printPod` makes it: READY counts ready containers (and
/// started sidecars), STATUS the phase or reason overridden by init and container states
/// (`Init:0/1`, `CrashLoopBackOff`, `Completed`, `Terminating`), RESTARTS with the time since
/// the last one, and wide IP, NODE, NOMINATED NODE, READINESS GATES.
enum PodPrinter {
    static func cells(_ pod: JSONValue, now: Date) -> [JSONValue] {
        let spec = pod["spec"] ?? [:]
        let status = pod["status"] ?? [:]
        let phase = status["phase"]?.stringValue ?? ""
        var reason = status["reason"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? phase
        for condition in status["conditions"]?.arrayValue ?? []
        where condition["type"] == "PodScheduled" && condition["reason"] == "SchedulingGated" {
            reason = "SchedulingGated"
        }
        let initContainers = spec["initContainers"]?.arrayValue ?? []
        let sidecars = Set(initContainers.filter { $0["restartPolicy"] == "Always" }.compactMap { $0["name"]?.stringValue })
        let total = (spec["containers"]?.arrayValue?.count ?? 0) + sidecars.count
        var ready = 0
        var restarts = 0
        var sidecarRestarts = 0
        var lastRestart: Date?
        var lastSidecarRestart: Date?
        func later(_ a: Date?, _ container: JSONValue) -> Date? {
            guard let finished = container["lastState"]?["terminated"]?["finishedAt"]?.stringValue.flatMap(HumanDuration.parse)
            else { return a }
            return a.map { max($0, finished) } ?? finished
        }
        var initializing = false
        for (index, container) in (status["initContainerStatuses"]?.arrayValue ?? []).enumerated() {
            let restartCount = Int(container["restartCount"]?.intValue ?? 0)
            restarts += restartCount
            lastRestart = later(lastRestart, container)
            let isSidecar = sidecars.contains(container["name"]?.stringValue ?? "")
            if isSidecar {
                sidecarRestarts += restartCount
                lastSidecarRestart = later(lastSidecarRestart, container)
            }
            let terminated = container["state"]?["terminated"]
            let waiting = container["state"]?["waiting"]
            if let terminated, terminated["exitCode"]?.intValue ?? 0 == 0 { continue }
            if isSidecar && container["started"]?.boolValue == true {
                if container["ready"]?.boolValue == true { ready += 1 }
                continue
            }
            if let terminated {
                if let why = terminated["reason"]?.stringValue, !why.isEmpty {
                    reason = "Init:" + why
                } else if let signal = terminated["signal"]?.intValue, signal != 0 {
                    reason = "Init:Signal:\(signal)"
                } else {
                    reason = "Init:ExitCode:\(terminated["exitCode"]?.intValue ?? 0)"
                }
            } else if let why = waiting?["reason"]?.stringValue, !why.isEmpty, why != "PodInitializing" {
                reason = "Init:" + why
            } else {
                reason = "Init:\(index)/\(initContainers.count)"
            }
            initializing = true
            break
        }
        let initialized = (status["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Initialized" && $0["status"] == "True" }
        if !initializing || initialized {
            restarts = sidecarRestarts
            lastRestart = lastSidecarRestart
            var running = false
            for container in (status["containerStatuses"]?.arrayValue ?? []).reversed() {
                restarts += Int(container["restartCount"]?.intValue ?? 0)
                lastRestart = later(lastRestart, container)
                let state = container["state"] ?? [:]
                if let why = state["waiting"]?["reason"]?.stringValue, !why.isEmpty {
                    reason = why
                } else if let terminated = state["terminated"] {
                    if let why = terminated["reason"]?.stringValue, !why.isEmpty {
                        reason = why
                    } else if let signal = terminated["signal"]?.intValue, signal != 0 {
                        reason = "Signal:\(signal)"
                    } else {
                        reason = "ExitCode:\(terminated["exitCode"]?.intValue ?? 0)"
                    }
                } else if container["ready"]?.boolValue == true && state["running"] != nil {
                    running = true
                    ready += 1
                }
            }
            if reason == "Completed" && running {
                let podReady = (status["conditions"]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
                reason = podReady ? "Running" : "NotReady"
            }
        }
        if pod["metadata"]?["deletionTimestamp"] != nil {
            if status["reason"] == "NodeLost" {
                reason = "Unknown"
            } else if phase != "Succeeded" && phase != "Failed" {
                reason = "Terminating"
            }
        }
        var restartText = String(restarts)
        if restarts != 0, let lastRestart {
            restartText = "\(restarts) (\(HumanDuration.text(now.timeIntervalSince(lastRestart))) ago)"
        }
        let gates = spec["readinessGates"]?.arrayValue ?? []
        let conditions = status["conditions"]?.arrayValue ?? []
        let trueGates = gates.filter { gate in
            conditions.first { $0["type"] == gate["conditionType"] }?["status"] == "True"
        }.count
        let ip = status["podIPs"]?[0]?["ip"]?.stringValue ?? ""
        return [
            .string(BuiltinColumns.objectName(pod)), .string("\(ready)/\(total)"), .string(reason), .string(restartText),
            .string(BuiltinColumns.age(pod, now)),
            .string(ip.isEmpty ? "<none>" : ip),
            .string(spec["nodeName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"),
            .string(status["nominatedNodeName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"),
            .string(gates.isEmpty ? "<none>" : "\(trueGates)/\(gates.count)"),
        ]
    }

    /// Finished pods carry a `Completed` row condition (kubectl uses it to tell them apart).
    static func conditions(_ pod: JSONValue) -> JSONValue? {
        switch pod["status"]?["phase"]?.stringValue {
        case "Succeeded":
            return [["type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."]]
        case "Failed":
            return [["type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."]]
        default:
            return nil
        }
    }
}
