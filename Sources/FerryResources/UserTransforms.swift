import FerryAPI
import FerryApps
import FerryKube

/// A restore's own transforms (`RestoreTransforms`) applied to the captured objects it restores,
/// before namespaces are mapped: storage classes renamed, Helm releases' latest records given new
/// values, then the JSON patches, in order. Worked out for every object before any is created, so
/// a transform that does not apply stops the restore with nothing written.
struct UserTransforms: Sendable {
    let patches: [ObjectPatch]
    let storageClasses: [String: String]
    /// The release records (by the storage object) that get new values: each release's latest
    /// revision in each namespace.
    let helmValues: [ObjectReference: JSONValue]

    /// Checks the transforms and finds the release records `helmValues` rewrites among `objects`
    /// (the objects being restored).
    init(_ transforms: RestoreTransforms?, objects: [KubeObject]) throws(RestoreTransformError) {
        patches = transforms?.patches ?? []
        storageClasses = transforms?.storageClassMapping ?? [:]
        for (number, patch) in patches.enumerated() {
            guard !patch.match.kind.isEmpty else { throw .malformedPatch(patch: number, reason: "match.kind is empty") }
            for (index, operation) in patch.patch.enumerated() {
                if let problem = operation.problem {
                    throw .malformedPatch(patch: number, reason: "operation \(index) (\(operation)): \(problem)")
                }
            }
        }
        var latest: [String: [String: (revision: Int, object: ObjectReference)]] = [:]
        if let wanted = transforms?.helmValues, !wanted.isEmpty {
            for object in objects where HelmRelease.isStorageObject(object) {
                let release: HelmRelease
                do {
                    release = try HelmRelease(storageObject: object)
                } catch {
                    if let name = object.labels["name"], wanted[name] != nil { throw .helmRecord(error) }
                    continue
                }
                let namespace = object.namespace ?? ""
                if (latest[release.name]?[namespace]?.revision ?? Int.min) < release.revision {
                    latest[release.name, default: [:]][namespace] = (release.revision, object.reference)
                }
            }
            var records: [ObjectReference: JSONValue] = [:]
            for (release, values) in wanted {
                guard case .object = values else { throw .helmValuesNotAnObject(release: release) }
                guard let found = latest[release], !found.isEmpty else {
                    throw .helmReleaseNotRestored(release: release, restored: latest.keys.sorted())
                }
                for record in found.values { records[record.object] = values }
            }
            helmValues = records
        } else {
            helmValues = [:]
        }
    }

    var isEmpty: Bool { patches.isEmpty && storageClasses.isEmpty && helmValues.isEmpty }

    func apply(to captured: KubeObject) throws(RestoreTransformError) -> KubeObject {
        guard !isEmpty else { return captured }
        var object = captured
        if !storageClasses.isEmpty { object = mapStorageClasses(object) }
        if let values = helmValues[captured.reference] {
            do {
                object = try HelmRelease.storageObject(object, values: values)
            } catch {
                throw .helmRecord(error)
            }
        }
        for (number, patch) in patches.enumerated() where patch.match.matches(captured.reference) {
            var json = object.json
            for (index, operation) in patch.patch.enumerated() {
                do {
                    json = try JSONPatchOperation.apply([operation], to: json)
                } catch {
                    throw .patchFailed(
                        object: captured.reference, patch: number, operation: index, description: operation.description,
                        reason: error.message)
                }
            }
            guard case .object = json else {
                throw .patchFailed(
                    object: captured.reference, patch: number, operation: patch.patch.count - 1,
                    description: patch.patch.last?.description ?? "", reason: "the result is not an object")
            }
            object = KubeObject(json)
            // What an object is and where it goes are the restore's to decide (a namespaced
            // Restore writes only into its own namespace): namespaceMapping moves objects.
            if object.reference != captured.reference {
                throw .patchFailed(
                    object: captured.reference, patch: number, operation: patch.patch.count - 1,
                    description: patch.patch.last?.description ?? "",
                    reason: "a patch may not change an object's apiVersion group, kind, namespace or name (it made it \(object.reference))")
            }
        }
        return object
    }

    /// The object with each storage class it names mapped: claims (and their legacy
    /// annotation), PersistentVolumes, StatefulSet claim templates, DataVolumes and a
    /// VirtualMachine's dataVolumeTemplates.
    func mapStorageClasses(_ object: KubeObject) -> KubeObject {
        var json = object.json
        func map(_ value: inout JSONValue, _ path: [String]) {
            if let name = value.value(at: path)?.stringValue, let mapped = storageClasses[name] {
                value.setValue(.string(mapped), at: path)
            }
        }
        func mapEach(_ path: [String], _ inner: [[String]]) {
            guard case .array(var elements)? = json.value(at: path) else { return }
            for index in elements.indices { for field in inner { map(&elements[index], field) } }
            json.setValue(.array(elements), at: path)
        }
        let dataVolumeFields = [["spec", "pvc", "storageClassName"], ["spec", "storage", "storageClassName"]]
        switch (object.groupKind.group, object.kind) {
        case ("", "PersistentVolumeClaim"):
            map(&json, ["spec", "storageClassName"])
            map(&json, ["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"])
        case ("", "PersistentVolume"):
            map(&json, ["spec", "storageClassName"])
        case ("apps", "StatefulSet"):
            mapEach(["spec", "volumeClaimTemplates"], [["spec", "storageClassName"]])
        case ("cdi.kubevirt.io", "DataVolume"):
            for field in dataVolumeFields { map(&json, field) }
        case ("kubevirt.io", "VirtualMachine"):
            mapEach(["spec", "dataVolumeTemplates"], dataVolumeFields)
        default:
            break
        }
        return KubeObject(json)
    }
}
