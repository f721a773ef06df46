import FerryKube
import Foundation

/// Why a Helm release storage object could not be read.
public struct HelmReleaseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var object: String
    public var reason: String
    public var description: String { "Helm release \(object): \(reason)" }
}

/// A decoded Helm release record (one revision), read from its storage Secret or ConfigMap.
public struct HelmRelease: Sendable {
    public var name: String
    public var namespace: String
    public var revision: Int
    /// `deployed`, `superseded`, `failed`, `pending-install`, ...
    public var status: String
    public var chartName: String
    public var chartVersion: String
    public var appVersion: String
    /// The rendered multi-document YAML the release applied.
    public var manifest: String
    /// Hook manifests (jobs, tests, CRD installs), as separate documents.
    public var hookManifests: [String]

    /// Largest decompressed release accepted (Helm itself caps Secrets at 1 MiB of encoded data;
    /// a release's JSON rarely passes a few MiB).
    public static let maximumDecodedSize = 32 << 20

    static func label(_ object: KubeObject) -> String { "\(object.kind) \(object.namespace ?? "")/\(object.name)" }

    /// The release record (JSON) a storage object holds: `data.release` = base64(gzip(JSON)),
    /// where for a Secret the API adds its own base64 layer on top (ConfigMaps hold the text).
    static func record(of object: KubeObject, limit: Int = maximumDecodedSize) throws(HelmReleaseError) -> JSONValue {
        func fail(_ reason: String) -> HelmReleaseError { HelmReleaseError(object: label(object), reason: reason) }
        guard let field = object["data"]?["release"]?.stringValue, !field.isEmpty else {
            throw fail("data.release is missing")
        }
        var encoded = Array(field.utf8)
        if object.kind == "Secret" {
            guard let inner = Data(base64Encoded: field) else { throw fail("the Secret's data.release is not base64") }
            encoded = Array(inner)
        }
        guard let compressed = Data(base64Encoded: Data(encoded), options: .ignoreUnknownCharacters) else {
            throw fail("the release payload is not base64")
        }
        var bytes = Array(compressed)
        // Helm gzips the JSON; it also reads uncompressed JSON records.
        if bytes.starts(with: [0x1F, 0x8B]) {
            do {
                bytes = try BoundedInflater.inflate(bytes, limit: limit)
            } catch {
                throw fail("cannot decompress the release: \(error)")
            }
        } else if bytes.count > limit {
            throw fail("the release record exceeds the \(limit)-byte limit")
        }
        do {
            return try JSONValue(parsing: bytes)
        } catch {
            throw fail("the release record is not JSON: \(error)")
        }
    }

    /// Whether an object is a Helm release record (Secret or ConfigMap storage driver).
    public static func isStorageObject(_ object: KubeObject) -> Bool {
        switch (object.groupKind.group, object.kind) {
        case ("", "Secret"): return object["type"]?.stringValue == "helm.sh/release.v1"
        case ("", "ConfigMap"): return object.labels["owner"] == "helm"
        default: return false
        }
    }

    /// The storage object with the release recorded in `namespace` (for a restore into another
    /// namespace: `helm status` and later revisions then name the new one).
    public static func storageObject(_ object: KubeObject, movedTo namespace: String) throws(HelmReleaseError) -> KubeObject {
        try storageObject(object) { $0["namespace"] = .string(namespace) }
    }

    /// The storage object with the release recorded as installed with `values` (the user-supplied
    /// values, `config` in the record: what `helm get values` shows and `helm upgrade
    /// --reuse-values` renders with).
    public static func storageObject(_ object: KubeObject, values: JSONValue) throws(HelmReleaseError) -> KubeObject {
        try storageObject(object) { $0["config"] = values }
    }

    /// The storage object with its release record changed by `edit`, stored as Helm stores it.
    static func storageObject(_ object: KubeObject, editing edit: (inout JSONValue) -> Void) throws(HelmReleaseError) -> KubeObject {
        var record = try record(of: object)
        edit(&record)
        var encoded = Data(GzipDeflater.compress(record.serialized())).base64EncodedString()
        if object.kind == "Secret" { encoded = Data(encoded.utf8).base64EncodedString() }
        var moved = object
        moved.json.setValue(.string(encoded), at: ["data", "release"])
        return moved
    }

    /// Decodes a storage object (Secret or ConfigMap).
    public init(storageObject object: KubeObject, limit: Int = maximumDecodedSize) throws(HelmReleaseError) {
        let json = try Self.record(of: object, limit: limit)
        func fail(_ reason: String) -> HelmReleaseError { HelmReleaseError(object: Self.label(object), reason: reason) }
        guard let name = json["name"]?.stringValue, !name.isEmpty else { throw fail("the release record has no name") }
        guard let revision = json["version"]?.intValue else { throw fail("the release record has no version") }
        self.name = name
        self.namespace = json["namespace"]?.stringValue ?? object.namespace ?? ""
        self.revision = Int(revision)
        self.status = json["info"]?["status"]?.stringValue ?? object.labels["status"] ?? ""
        self.chartName = json["chart"]?["metadata"]?["name"]?.stringValue ?? ""
        self.chartVersion = json["chart"]?["metadata"]?["version"]?.stringValue ?? ""
        self.appVersion = json["chart"]?["metadata"]?["appVersion"]?.stringValue ?? ""
        guard let manifest = json["manifest"]?.stringValue else { throw fail("the release record has no manifest") }
        self.manifest = manifest
        self.hookManifests = (json["hooks"]?.arrayValue ?? []).compactMap { $0["manifest"]?.stringValue }
    }

    /// Storage object name for a revision: `sh.helm.release.v1.<name>.v<revision>`.
    public static func storageName(release: String, revision: Int) -> String {
        "sh.helm.release.v1.\(release).v\(revision)"
    }
}

/// One object a release manifest declares.
public struct ManifestEntry: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    /// As written in the manifest (nil: the release namespace for namespaced kinds).
    public var namespace: String?
}

extension HelmRelease {
    /// The objects of a multi-document manifest (documents without kind or name are skipped;
    /// `List` documents are expanded).
    public static func entries(ofManifest text: String) throws(YAMLError) -> [ManifestEntry] {
        var result: [ManifestEntry] = []
        func add(_ document: JSONValue) {
            guard case .object = document else { return }
            if let kind = document["kind"]?.stringValue, kind.hasSuffix("List"), let items = document["items"]?.arrayValue {
                items.forEach(add)
                return
            }
            guard let apiVersion = document["apiVersion"]?.stringValue, let kind = document["kind"]?.stringValue,
                let name = document["metadata"]?["name"]?.stringValue, !name.isEmpty
            else { return }
            let namespace = document["metadata"]?["namespace"]?.stringValue
            result.append(
                ManifestEntry(apiVersion: apiVersion, kind: kind, name: name, namespace: namespace?.isEmpty == true ? nil : namespace))
        }
        for document in try YAMLDocuments.parse(text) { add(document) }
        return result
    }
}
