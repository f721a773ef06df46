import FerryKube

/// Strategic merge patch as kubectl's client-side apply sends it, for built-in kinds: maps merge,
/// `null` deletes, lists of objects with a known merge key (containers and volumes by `name`,
/// container ports by `containerPort`, service ports by `port`, ...) merge element-wise, other
/// lists replace. Directives handled: `$patch` (replace/delete/merge), `$retainKeys`,
/// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>`. The merge key is chosen by list
/// name, not by the Go type's schema: an approximation that covers the common kinds.
enum StrategicMergePatch {
    struct PatchError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Lists whose elements merge by a key, and that key.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
        "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
        "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
        "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "schedulingGates": "name",
        "readinessGates": "conditionType",
    ]

    /// Primitive lists whose patch strategy is merge (union) rather than replace.
    static let mergedPrimitiveLists: Set<String> = ["finalizers"]

    static func apply(_ patch: JSONValue, to original: JSONValue) throws(PatchError) -> JSONValue {
        guard case .object = patch else { throw PatchError(message: "a strategic merge patch must be a JSON object") }
        return try mergeMap(original.objectValue ?? [:], patch.objectValue!).map { .object($0) } ?? .object([:])
    }

    /// Merges `patch` into `original`; nil means "delete this map" (`$patch: delete`).
    static func mergeMap(_ original: [String: JSONValue], _ patch: [String: JSONValue]) throws(PatchError) -> [String: JSONValue]? {
        var result = original
        var patch = patch
        if let directive = patch.removeValue(forKey: "$patch")?.stringValue {
            switch directive {
            case "delete": return nil
            case "replace": return try stripDirectives(patch)
            case "merge": break
            default: throw PatchError(message: "unknown $patch directive \"\(directive)\"")
            }
        }
        if let retain = patch.removeValue(forKey: "$retainKeys") {
            guard case .array(let keys) = retain else { throw PatchError(message: "$retainKeys must be a list") }
            let keep = Set(keys.compactMap(\.stringValue))
            result = result.filter { keep.contains($0.key) }
        }
        var orders: [String: [JSONValue]] = [:]
        for (key, value) in patch {
            if key.hasPrefix("$setElementOrder/") {
                orders[String(key.dropFirst("$setElementOrder/".count))] = value.arrayValue ?? []
                continue
            }
            if key.hasPrefix("$deleteFromPrimitiveList/") {
                let listKey = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let remove = Set(value.arrayValue ?? [])
                if case .array(let existing)? = result[listKey] {
                    result[listKey] = .array(existing.filter { !remove.contains($0) })
                }
                continue
            }
            if value.isNull {
                result.removeValue(forKey: key)
                continue
            }
            switch value {
            case .object(let patchMembers):
                let current = result[key]?.objectValue ?? [:]
                if let merged = try mergeMap(current, patchMembers) {
                    result[key] = .object(merged)
                } else {
                    result.removeValue(forKey: key)
                }
            case .array(let patchElements):
                result[key] = .array(try mergeList(key: key, result[key]?.arrayValue ?? [], patchElements))
            default:
                result[key] = value
            }
        }
        for (listKey, order) in orders {
            guard case .array(let elements)? = result[listKey] else { continue }
            result[listKey] = .array(reorder(elements, by: order, key: mergeKey(for: listKey, elements)))
        }
        return result
    }

    static func mergeKey(for listKey: String, _ elements: [JSONValue]) -> String? {
        if listKey == "ports" {
            return elements.contains { $0["containerPort"] != nil } ? "containerPort" : "port"
        }
        return mergeKeys[listKey]
    }

    static func mergeList(key listKey: String, _ original: [JSONValue], _ patch: [JSONValue]) throws(PatchError) -> [JSONValue] {
        let allObjects = !patch.isEmpty && patch.allSatisfy { $0.objectValue != nil }
        if allObjects, let mergeKey = mergeKey(for: listKey, patch + original) {
            if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
                return try patch.filter { $0["$patch"]?.stringValue != "replace" }.map { element throws(PatchError) in
                    .object(try stripDirectives(element.objectValue!))
                }
            }
            var result = original
            for element in patch {
                var members = element.objectValue!
                let directive = members["$patch"]?.stringValue
                guard let keyValue = members[mergeKey] else {
                    throw PatchError(message: "an element of \(listKey) has no merge key \(mergeKey)")
                }
                let index = result.firstIndex { $0[mergeKey] == keyValue }
                if directive == "delete" {
                    if let index { result.remove(at: index) }
                    continue
                }
                members.removeValue(forKey: "$patch")
                if let index {
                    if let merged = try mergeMap(result[index].objectValue ?? [:], members) {
                        result[index] = .object(merged)
                    } else {
                        result.remove(at: index)
                    }
                } else {
                    result.append(.object(try stripDirectives(members)))
                }
            }
            return result
        }
        if mergedPrimitiveLists.contains(listKey) {
            var result = original
            for element in patch where !result.contains(element) { result.append(element) }
            return result
        }
        return try patch.map { element throws(PatchError) in
            if case .object(let members) = element { return .object(try stripDirectives(members)) }
            return element
        }
    }

    static func reorder(_ elements: [JSONValue], by order: [JSONValue], key: String?) -> [JSONValue] {
        var remaining = elements
        var result: [JSONValue] = []
        for wanted in order {
            let index: Int?
            if let key, let keyValue = wanted[key] {
                index = remaining.firstIndex { $0[key] == keyValue }
            } else {
                index = remaining.firstIndex(of: wanted)
            }
            if let index { result.append(remaining.remove(at: index)) }
        }
        return result + remaining
    }

    static func stripDirectives(_ members: [String: JSONValue]) throws(PatchError) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for (key, value) in members where !key.hasPrefix("$") {
            if case .object(let inner) = value {
                result[key] = .object(try stripDirectives(inner))
            } else {
                result[key] = value
            }
        }
        return result
    }
}

/// Server-side apply as the test server implements it: the applied configuration is merged into
/// the live object recursively for maps, with lists replaced wholesale. There is no field
/// ownership: fields a manager stops applying are not removed, and conflicts are never reported.
enum ApplyPatch {
    static func merge(_ live: JSONValue, _ applied: JSONValue) -> JSONValue {
        guard case .object(let appliedMembers) = applied else { return applied }
        var result = live.objectValue ?? [:]
        for (key, value) in appliedMembers {
            if case .object = value, let existing = result[key], case .object = existing {
                result[key] = merge(existing, value)
            } else if value.isNull {
                result.removeValue(forKey: key)
            } else {
                result[key] = value
            }
        }
        return .object(result)
    }
}
