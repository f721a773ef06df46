import FerryRepo

/// Why a restore's selection cannot be applied.
public enum RestoreSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The snapshot was taken before Ferry recorded which component each object belongs to.
    case componentsNotRecorded
    /// `include` names a component the snapshot does not hold.
    case componentNotInSnapshot(ApplicationComponent, recorded: [ApplicationComponent])
    case invalidLabelSelector(field: String, reason: String)

    public var description: String {
        switch self {
        case .componentsNotRecorded:
            return """
                this snapshot was taken before Ferry recorded which component each object belongs to, so it cannot be \
                restored by component: select its objects by kind or label instead, or restore it whole
                """
        case .componentNotInSnapshot(let component, let recorded):
            let held = recorded.isEmpty ? "none" : recorded.map(\.notation).joined(separator: ", ")
            return "\(component) is not in this snapshot (its components: \(held))"
        case .invalidLabelSelector(let field, let reason):
            return "\(field) is not a valid label selector: \(reason)"
        }
    }
}
