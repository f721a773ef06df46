import FerryAPI
import FerryApps
import FerryKube
import FerryRepo
import FerrySystem
import Foundation

/// Restores the Kubernetes objects a snapshot captured, phase by phase in `RestoreOrder`:
/// CustomResourceDefinitions (waited for until established and served), namespaces, the
/// operator and what it needs (waited for until ready), webhooks, configuration, storage,
/// services, custom resources, workloads, VirtualMachines. Objects already in the cluster are
/// kept (`skip`) or brought to the captured state by server-side apply (`update`). An object the
/// server refuses is reported and the restore goes on; running it again creates what is missing.
///
/// Only what `include` names and `exclude` does not is restored (`RestoreFilter`), with the
/// restore's own transforms applied (`UserTransforms`); both are checked, and the transforms
/// worked out for every object, before the first object is created.
public struct ResourceRestore: Sendable {
    public struct Options: Sendable {
        /// Source namespace → target namespace.
        public var namespaceMapping: [String: String] = [:]
        public var existing: ExistingResourcePolicy = .skip
        /// How long to wait for CRDs and the operator; zero does not wait.
        public var waitTimeout: Duration = .seconds(300)
        public var pollInterval: Duration = .milliseconds(250)
        /// The field manager of creates and applies.
        public var fieldManager = "ferry"
        /// When set, everything lands in this namespace (every captured namespace maps to it)
        /// and cluster-scoped objects are not created (`skipped`): what a namespaced Restore
        /// resource may do.
        public var confinedTo: String?
        /// Runs after each phase's objects are in place (and waited for), before the next phase,
        /// with what was done so far: e.g. writing volume data into the claims this restore
        /// created, before the workloads start.
        public var afterPhase: (@Sendable (RestoreOrder.Phase, ResourceRestoreReport) async throws -> Void)?
        /// The last say on each object before it is created (namespaces and owners already
        /// mapped): e.g. a claim given a data source holding its restored data. An error stops
        /// the restore.
        public var prepare: (@Sendable (KubeObject) async throws -> KubeObject)?
        /// Only these captured objects (nil: all of them).
        public var include: RestoreSelection?
        /// Not these captured objects.
        public var exclude: RestoreSelection?
        /// Patches, storage class mapping and Helm values applied to the captured objects.
        public var transforms: RestoreTransforms?

        public init() {}
    }

    public let client: KubeClient
    public let repository: Repository
    public let resources: ResourceManifest
    public var options: Options

    public init(client: KubeClient, repository: Repository, resources: ResourceManifest, options: Options = Options()) {
        self.client = client
        self.repository = repository
        self.resources = resources
        self.options = options
    }

    /// One captured object loaded from the repository.
    struct Captured {
        var entry: ResourceEntry
        var phase: RestoreOrder.Phase
        var object: KubeObject
        /// A claim whose storage class the restore's transforms changed: it stays bound only to
        /// a volume this restore creates (with the class mapped too), not to one of the old class.
        var reclassed = false
        var reference: ObjectReference { object.reference }
    }

    public func run(log: @Sendable (String) -> Void = { _ in }) async throws -> ResourceRestoreReport {
        var report = ResourceRestoreReport()
        let captured = try await selected(report: &report, log: log)
        var mapping = options.namespaceMapping
        if let own = options.confinedTo {
            mapping = [:]
            for namespace in Set(captured.compactMap(\.entry.namespace)) { mapping[namespace] = own }
        }
        let transform = RestoreTransform(namespaceMapping: mapping)
        var catalog = try await client.resourceCatalog(refresh: true)
        let volumes = try await volumesThatWillExist(captured, catalog: catalog)
        let restoredVolumes = RestorableVolumes(created: volumes.created)
        var uids: [ObjectReference: String] = [:]
        var namespaces: Set<String> = []

        for phase in RestoreOrder.Phase.allCases {
            let members = captured.filter { $0.phase == phase }
            guard !members.isEmpty else { continue }
            log("\(phase): \(members.count) object(s)")
            var present: [(KubeObject, APIResource)] = []
            for item in members {
                let target = transform.target(item.reference)
                if options.confinedTo != nil, !item.entry.namespaced {
                    report.objects.append(
                        RestoredObject(
                            reference: target, phase: phase, action: .skipped,
                            message: "cluster-scoped: a namespaced restore writes only into its own namespace"))
                    continue
                }
                guard let resource = try await resolve(item.entry, catalog: &catalog) else {
                    report.objects.append(
                        RestoredObject(
                            reference: target, phase: phase, action: .failed,
                            message: "the server does not serve \(item.entry.kind) (\(item.entry.apiVersion))"))
                    continue
                }
                var object = transform.apply(to: item.object, volumes: item.reclassed ? restoredVolumes : volumes) { owner in
                    uids[owner] ?? uids[ObjectReference(group: owner.group, kind: owner.kind, namespace: nil, name: owner.name)]
                }
                if let prepare = options.prepare { object = try await prepare(object) }
                do {
                    if let namespace = target.namespace, options.confinedTo == nil, namespaces.insert(namespace).inserted,
                        let created = try await ensureNamespace(namespace, catalog: catalog)
                    {
                        report.objects.append(created)
                    }
                    let (action, live) = try await put(object, resource: resource)
                    if let uid = live.uid { uids[target] = uid }
                    present.append((live, resource))
                    report.objects.append(
                        RestoredObject(
                            reference: target, phase: phase, action: action, message: nil, object: live,
                            components: Set(item.entry.components ?? [])))
                } catch {
                    if Self.isFatal(error) { throw ResourceRestoreError.kube(error) }
                    report.objects.append(RestoredObject(reference: target, phase: phase, action: .failed, message: error.description))
                }
            }
            if phase.waitsUntilReady, options.waitTimeout > .zero, !present.isEmpty {
                let start = ContinuousClock.now
                try await waitUntilReady(present, phase: phase)
                if phase == .customResourceDefinitions { catalog = try await waitUntilServed(present.map(\.0)) }
                report.waits.append(ResourceRestoreReport.Wait(phase: phase, seconds: (ContinuousClock.now - start).seconds))
            }
            try await options.afterPhase?(phase, report)
        }
        return report
    }

    // MARK: - Loading

    /// The captured objects to restore, as they are to be restored: those the selection names,
    /// transformed. The others are reported as `excluded`.
    func selected(report: inout ResourceRestoreReport, log: @Sendable (String) -> Void) async throws -> [Captured] {
        let loaded = try await load()
        let filter = try RestoreFilter(include: options.include, exclude: options.exclude)
        try filter.check(loaded.map(\.entry))
        var captured: [Captured] = []
        for (item, chosen) in zip(loaded, filter.select(loaded.map { ($0.entry, $0.object) })) {
            if chosen { captured.append(item) } else { report.excluded.append(item.reference) }
        }
        if !filter.selectsEverything { log("selected \(captured.count) of \(loaded.count) object(s)") }
        let transforms = try UserTransforms(options.transforms, objects: captured.map(\.object))
        guard !transforms.isEmpty else { return captured }
        return try captured.map { item in
            var item = item
            let before = item.object
            item.object = try transforms.apply(to: before)
            let legacy = "volume.beta.kubernetes.io/storage-class"
            item.reclassed =
                before.groupKind == GroupKind(group: "", kind: "PersistentVolumeClaim")
                && (before["spec"]?["storageClassName"] != item.object["spec"]?["storageClassName"]
                    || before.annotations[legacy] != item.object.annotations[legacy])
            return item
        }
    }

    /// Every captured object, checked against its catalog entry, in restore order.
    func load() async throws -> [Captured] {
        var captured: [Captured] = []
        let entries = try await repository.resourceEntries(resources)
        let chunks = try await repository.readChunks(try entries.map { try $0.objectID() }, context: "captured objects")
        for entry in entries {
            guard let phase = RestoreOrder.Phase(identifier: entry.phase) else {
                throw ResourceRestoreError.unknownPhase(entry.phase, object: "\(entry.kind) \(entry.name)")
            }
            guard let bytes = chunks[try entry.objectID()] else {
                throw ResourceRestoreError.malformedObject("\(entry.kind) \(entry.name)", "its stored object was not read")
            }
            guard let json = try? JSONValue(parsing: bytes), case .object = json else {
                throw ResourceRestoreError.malformedObject("\(entry.kind) \(entry.name)", "its stored JSON does not parse")
            }
            let object = KubeObject(json)
            guard object.kind == entry.kind, object.name == entry.name, object.namespace == entry.namespace else {
                throw ResourceRestoreError.malformedObject("\(entry.kind) \(entry.name)", "the stored object is \(object.reference)")
            }
            captured.append(Captured(entry: entry, phase: phase, object: object))
        }
        return captured.enumerated().sorted { a, b in
            (a.element.phase, RestoreOrder.storageRank(kind: a.element.entry.kind), a.offset)
                < (b.element.phase, RestoreOrder.storageRank(kind: b.element.entry.kind), b.offset)
        }.map(\.element)
    }

    /// The captured PersistentVolumes a restored claim may stay bound to: those this restore
    /// creates, and (when cluster-scoped objects are not restored) those the cluster still has.
    func volumesThatWillExist(_ captured: [Captured], catalog: APIResourceCatalog) async throws -> RestorableVolumes {
        let names = Set(captured.filter { $0.object.groupKind == GroupKind(group: "", kind: "PersistentVolume") }.map(\.object.name))
        var volumes = RestorableVolumes()
        guard !names.isEmpty, let resource = catalog.resource(for: GroupKind(group: "", kind: "PersistentVolume")) else { return volumes }
        for name in names.sorted() {
            do {
                let volume = try await client.get(resource, namespace: nil, name: name)
                volumes.existing[name] = PersistentVolumeView(volume)?.reservedFor ?? ""
            } catch {
                if Self.isFatal(error) { throw ResourceRestoreError.kube(error) }
                // Absent: a cluster-wide restore creates it; a namespaced one cannot. Any other
                // answer leaves it out: the claim is then bound anew, never to a volume unseen.
                if case .notFound = error, options.confinedTo == nil { volumes.created.insert(name) }
            }
        }
        return volumes
    }

    // MARK: - Writing

    /// The served resource for a captured object: by its apiVersion, else the group's other
    /// version of the kind. A kind a CRD of this restore defines is served once it is established.
    func resolve(_ entry: ResourceEntry, catalog: inout APIResourceCatalog) async throws -> APIResource? {
        func find(_ catalog: APIResourceCatalog) -> APIResource? {
            catalog.resource(apiVersion: entry.apiVersion, kind: entry.kind)
                ?? catalog.resource(for: GroupKind(group: GroupVersion(apiVersion: entry.apiVersion).group, kind: entry.kind))
        }
        if let found = find(catalog) { return found }
        do {
            catalog = try await client.resourceCatalog(refresh: true)
        } catch {
            throw ResourceRestoreError.kube(error)
        }
        return find(catalog)
    }

    /// Creates the object; when it exists, keeps it or applies the captured state over it.
    func put(_ object: KubeObject, resource: APIResource) async throws(KubeError) -> (RestoredObject.Action, KubeObject) {
        do {
            return (.created, try await client.create(resource, object, fieldManager: options.fieldManager))
        } catch .alreadyExists {
            switch options.existing {
            case .skip:
                return (.existing, try await client.get(resource, namespace: object.namespace, name: object.name))
            case .update:
                let applied = try await client.patch(
                    resource, namespace: object.namespace, name: object.name, type: .apply(fieldManager: options.fieldManager, force: true),
                    patch: object.json)
                return (.updated, applied)
            }
        }
    }

    /// Creates a namespace the captured objects need when the cluster lacks it (the
    /// application's own Namespace object, if captured, was restored in an earlier phase).
    func ensureNamespace(_ name: String, catalog: APIResourceCatalog) async throws(KubeError) -> RestoredObject? {
        guard let resource = catalog.resource(for: GroupKind(group: "", kind: "Namespace")) else {
            throw KubeError.unknownResource("the server does not serve Namespaces")
        }
        do {
            _ = try await client.get(resource, namespace: nil, name: name)
            return nil
        } catch .notFound {
            do {
                _ = try await client.create(
                    resource, KubeObject(apiVersion: "v1", kind: "Namespace", name: name), fieldManager: options.fieldManager)
            } catch .alreadyExists {
                return nil
            }
            return RestoredObject(
                reference: ObjectReference(group: "", kind: "Namespace", namespace: nil, name: name), phase: .namespaces,
                action: .created, message: nil)
        } catch .forbidden {
            return nil // may not read namespaces: the creates themselves will tell
        }
    }

    // MARK: - Waiting

    /// Polls each object until `Readiness` says it is ready, or fails naming what is not.
    func waitUntilReady(_ objects: [(KubeObject, APIResource)], phase: RestoreOrder.Phase) async throws {
        let deadline = ContinuousClock.now + options.waitTimeout
        var waiting = objects
        while true {
            var still: [(KubeObject, APIResource, String)] = []
            for (object, resource) in waiting {
                let current: KubeObject
                do {
                    current = try await client.get(resource, namespace: object.namespace, name: object.name)
                } catch {
                    if Self.isFatal(error) { throw ResourceRestoreError.kube(error) }
                    still.append((object, resource, error.description))
                    continue
                }
                if let pending = Readiness.pending(current) { still.append((object, resource, pending)) }
            }
            if still.isEmpty { return }
            if ContinuousClock.now >= deadline {
                throw ResourceRestoreError.notReady(
                    phase: phase, waited: options.waitTimeout, pending: still.map { "\($0.0.reference): \($0.2)" })
            }
            waiting = still.map { ($0.0, $0.1) }
            try await Task.sleep(for: options.pollInterval)
        }
    }

    /// After CRDs are established, waits until discovery serves their kinds.
    func waitUntilServed(_ definitions: [KubeObject]) async throws -> APIResourceCatalog {
        let kinds = definitions.compactMap { crd -> GroupKind? in
            guard let group = crd["spec"]?["group"]?.stringValue, let kind = crd["spec"]?["names"]?["kind"]?.stringValue else { return nil }
            return GroupKind(group: group, kind: kind)
        }
        let deadline = ContinuousClock.now + options.waitTimeout
        while true {
            let catalog: APIResourceCatalog
            do {
                catalog = try await client.resourceCatalog(refresh: true)
            } catch {
                throw ResourceRestoreError.kube(error)
            }
            let missing = kinds.filter { catalog.resource(for: $0) == nil }
            if missing.isEmpty { return catalog }
            if ContinuousClock.now >= deadline {
                throw ResourceRestoreError.notReady(
                    phase: .customResourceDefinitions, waited: options.waitTimeout,
                    pending: missing.map { "\($0): not served by the API yet" })
            }
            try await Task.sleep(for: options.pollInterval)
        }
    }

    /// Errors that end the restore: the server cannot be reached or will not talk to us.
    static func isFatal(_ error: KubeError) -> Bool {
        switch error {
        case .unreachable, .tls, .unauthorized, .credentials, .configuration: return true
        default: return false
        }
    }
}

/// What a restore does with an object that already exists.
public enum ExistingResourcePolicy: String, Sendable, CaseIterable {
    /// Leave it as it is (reported as `existing`).
    case skip
    /// Server-side apply the captured state over it (forcing conflicts).
    case update
}

/// One object of a resource restore and what happened to it.
public struct RestoredObject: Sendable {
    public enum Action: String, Sendable {
        case created, existing, updated, failed
        /// Not restored on purpose (see the message).
        case skipped
    }

    /// Where it was restored (namespace mapping applied).
    public var reference: ObjectReference
    public var phase: RestoreOrder.Phase
    public var action: Action
    /// Why it failed.
    public var message: String?
    /// The object as the server holds it after the restore (nil when the restore wrote none).
    public var object: KubeObject?
    /// The components it belongs to, as the snapshot recorded them (in the backed-up namespaces).
    public var components: Set<ApplicationComponent> = []
}

/// The result of a resource restore.
public struct ResourceRestoreReport: Sendable {
    public struct Wait: Sendable {
        public var phase: RestoreOrder.Phase
        public var seconds: Double
    }

    public var objects: [RestoredObject] = []
    public var waits: [Wait] = []
    /// The captured objects (as backed up) the restore's selection left out.
    public var excluded: [ObjectReference] = []

    public func count(_ action: RestoredObject.Action) -> Int { objects.filter { $0.action == action }.count }
}

/// Why a resource restore stopped.
public enum ResourceRestoreError: Error, CustomStringConvertible {
    case kube(KubeError)
    case unknownPhase(String, object: String)
    case malformedObject(String, String)
    case notReady(phase: RestoreOrder.Phase, waited: Duration, pending: [String])

    public var description: String {
        switch self {
        case .kube(let error): return error.description
        case .unknownPhase(let phase, let object):
            return
                "\(object) is in restore phase \"\(phase)\", which this Ferry does not know (the snapshot was written by a newer version)"
        case .malformedObject(let object, let why): return "captured \(object) is damaged: \(why)"
        case .notReady(let phase, let waited, let pending):
            return "\(phase) not ready after \(waited.seconds.formatted())s, so the restore stopped before the objects that depend on them "
                + "(run it again once they are ready): \(pending.joined(separator: "; "))"
        }
    }
}
