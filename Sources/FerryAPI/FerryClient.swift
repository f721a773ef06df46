import FerryKube

/// Ferry's kinds over a `KubeClient`: typed reads, creates, and status writes that re-read and
/// retry on conflicts, so a write never replaces fields another writer set in between.
public struct FerryClient: Sendable {
    public let kube: KubeClient

    public init(_ kube: KubeClient) {
        self.kube = kube
    }

    /// The served resource of a kind (from discovery: the CRDs must be installed).
    public func resource(_ kind: FerryKind) async throws(ClusterError) -> APIResource {
        do {
            return try await kube.resource(apiVersion: FerryKind.apiVersion, kind: kind.rawValue)
        } catch {
            throw .kube(error)
        }
    }

    /// One object, or which one is missing and who needed it.
    /// - Parameter recent: where a read of the last few seconds may come from (nil: read now).
    public func get<R: FerryObject>(
        _ type: R.Type, namespace: String?, name: String, neededBy: String, recent: RecentReads? = nil
    ) async throws(ClusterError) -> R {
        let resource = try await resource(R.kind)
        let object: KubeObject
        do {
            if let recent {
                object = try await recent.get(resource, namespace: namespace ?? "", name: name, from: kube)
            } else {
                object = try await kube.get(resource, namespace: namespace, name: name)
            }
        } catch .notFound {
            throw .missing(kind: R.kind.rawValue, namespace: namespace ?? "", name: name, neededBy: neededBy)
        } catch {
            throw .kube(error)
        }
        return try R(object)
    }

    /// The current version of `value`'s object, or nil when it is gone.
    public func reread<R: FerryObject>(_ value: R) async throws(ClusterError) -> R? {
        let resource = try await resource(R.kind)
        let object: KubeObject
        do {
            object = try await kube.get(resource, namespace: value.namespace, name: value.name)
        } catch .notFound {
            return nil
        } catch {
            throw .kube(error)
        }
        return try R(object)
    }

    /// Every object of the kind (in `namespace`, or everywhere), with those whose spec does
    /// not read apart.
    public func list<R: FerryObject>(_ type: R.Type, namespace: String?, labelSelector: String? = nil) async throws(ClusterError)
        -> (objects: [R], invalid: [(KubeObject, ClusterError)])
    {
        let resource = try await resource(R.kind)
        let all: [KubeObject]
        do {
            all = try await kube.listAll(resource, namespace: namespace, labelSelector: labelSelector)
        } catch {
            throw .kube(error)
        }
        var objects: [R] = []
        var invalid: [(KubeObject, ClusterError)] = []
        for object in all {
            do {
                objects.append(try R(object))
            } catch {
                invalid.append((object, error))
            }
        }
        return (objects, invalid)
    }

    /// Creates the object; `alreadyExists` is the caller's to judge.
    @discardableResult
    public func create<R: FerryObject>(_ value: R) async throws(ClusterError) -> R {
        let resource = try await resource(R.kind)
        let object: KubeObject
        do {
            object = try value.encoded()
        } catch {
            throw .invalidSpec(object: value.label, field: "spec", message: "\(error)")
        }
        let created: KubeObject
        do {
            created = try await kube.create(resource, object)
        } catch {
            throw .kube(error)
        }
        return try R(created)
    }

    /// Which version of an object a status change applies to.
    public enum StatusBasis: Sendable {
        /// The latest: the object is read first, and again after each conflict, and `change`
        /// applied to it (so `change` must be repeatable).
        case latest
        /// Exactly the version given: a conflict means someone else wrote first, and is thrown
        /// (`.kube(.conflict)`) — a claim or a judgement made on what was seen.
        case given
    }

    /// Changes the status with `change` (which returns false to leave the object as it is).
    /// Returns the object as written, as it is when `change` declined, or nil when it is gone.
    @discardableResult
    public func updateStatus<R: FerryObject>(_ value: R, basis: StatusBasis = .latest, _ change: (inout R.Status, R) throws -> Bool)
        async throws -> R?
    {
        let resource = try await resource(R.kind)
        var current = value
        if basis == .latest {
            guard let latest = try await reread(value) else { return nil }
            current = latest
        }
        let conflictRetries = basis == .latest ? 10 : 0
        for attempt in 0...conflictRetries {
            var status = current.status
            guard try change(&status, current) else { return current }
            var next = current
            next.status = status
            do {
                let object = try next.encoded()
                return try R(try await kube.updateStatus(resource, object))
            } catch KubeError.conflict where attempt < conflictRetries {
                guard let latest = try await reread(current) else { return nil }
                current = latest
            } catch KubeError.notFound {
                return nil
            } catch let error as KubeError {
                throw ClusterError.kube(error)
            }
        }
        return nil
    }

    /// Adds (or, with `present: false`, removes) a finalizer on the latest version of the object;
    /// conflicts are retried. Returns the object as written, or nil when it is gone.
    @discardableResult
    public func setFinalizer<R: FerryObject>(_ finalizer: String, present: Bool, on value: R) async throws(ClusterError) -> R? {
        let resource = try await resource(R.kind)
        for _ in 0..<10 {
            guard let current = try await reread(value) else { return nil }
            var finalizers = current.object.finalizers
            guard finalizers.contains(finalizer) != present else { return current }
            if present { finalizers.append(finalizer) } else { finalizers.removeAll { $0 == finalizer } }
            var object = current.object
            object.json.setValue(.array(finalizers.map(JSONValue.string)), at: ["metadata", "finalizers"])
            let updated: KubeObject
            do {
                updated = try await kube.update(resource, object)
            } catch .conflict {
                continue
            } catch .notFound {
                return nil
            } catch {
                throw .kube(error)
            }
            return try R(updated)
        }
        throw .kube(
            .conflict(APIStatus(code: 409, reason: "Conflict", message: "\(value.label) kept changing while its finalizers were written")))
    }
}
