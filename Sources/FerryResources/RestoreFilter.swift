import FerryAPI
import FerryKube
import FerryRepo

/// A restore's `include` and `exclude` applied to a snapshot's captured objects: an object is
/// restored when `include` names it (or there is none) and `exclude` does not. A selection names
/// an object when every criterion it gives holds: the object belongs to one of its components
/// (as the catalog recorded at capture), matches one of its object patterns, and its labels match
/// its selector.
struct RestoreFilter: Sendable {
    /// One selection, checked.
    struct Criteria: Sendable {
        var components: [ApplicationComponent]
        var objects: [ObjectPattern]
        var labels: LabelSelector?

        init?(_ selection: RestoreSelection?, field: String) throws(RestoreSelectionError) {
            guard let selection, !selection.isEmpty else { return nil }
            components = selection.components ?? []
            objects = selection.objects ?? []
            if let spec = selection.labelSelector {
                do {
                    labels = try LabelSelector(object: try JSONValue(encoding: spec))
                } catch let error as SelectorError {
                    throw .invalidLabelSelector(field: "\(field).labelSelector", reason: error.reason)
                } catch {
                    throw .invalidLabelSelector(field: "\(field).labelSelector", reason: "\(error)")
                }
            }
        }

        func names(_ entry: ResourceEntry, _ object: KubeObject) -> Bool {
            if !components.isEmpty {
                let recorded = entry.components ?? []
                guard components.contains(where: { wanted in recorded.contains { wanted.selects($0) } }) else { return false }
            }
            if !objects.isEmpty, !objects.contains(where: { $0.matches(object.reference) }) { return false }
            if let labels, !labels.matches(object.labels) { return false }
            return true
        }
    }

    let include: Criteria?
    let exclude: Criteria?

    init(include: RestoreSelection?, exclude: RestoreSelection?) throws(RestoreSelectionError) {
        self.include = try Criteria(include, field: "include")
        self.exclude = try Criteria(exclude, field: "exclude")
    }

    /// Whether every object is restored.
    var selectsEverything: Bool { include == nil && exclude == nil }

    func selects(_ entry: ResourceEntry, _ object: KubeObject) -> Bool {
        (include?.names(entry, object) ?? true) && !(exclude?.names(entry, object) ?? false)
    }

    /// Which of the captured objects are restored: those the selection names, and the captured
    /// Namespaces the selected objects are in (their labels, Pod Security levels say, matter)
    /// unless `exclude` names them.
    func select(_ captured: [(entry: ResourceEntry, object: KubeObject)]) -> [Bool] {
        var chosen = captured.map { selects($0.entry, $0.object) }
        guard !selectsEverything else { return chosen }
        let namespaces = Set(captured.indices.filter { chosen[$0] }.compactMap { captured[$0].object.namespace })
        for (index, item) in captured.enumerated()
        where !chosen[index] && item.object.groupKind == GroupKind(group: "", kind: "Namespace") && namespaces.contains(item.object.name)
            && !(exclude?.names(item.entry, item.object) ?? false)
        {
            chosen[index] = true
        }
        return chosen
    }

    /// Checks the selection against the snapshot's catalog: components can be named only when
    /// the snapshot recorded them, and each component `include` names must be in it.
    func check(_ entries: [ResourceEntry]) throws(RestoreSelectionError) {
        let named = (include?.components ?? []) + (exclude?.components ?? [])
        guard !named.isEmpty else { return }
        if entries.contains(where: { $0.components == nil }) { throw .componentsNotRecorded }
        let recorded = Set(entries.flatMap { $0.components ?? [] })
        for wanted in include?.components ?? [] where !recorded.contains(where: { wanted.selects($0) }) {
            throw .componentNotInSnapshot(wanted, recorded: recorded.sorted())
        }
    }
}
