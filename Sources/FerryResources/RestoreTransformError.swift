import FerryApps
import FerryKube

/// Why a restore's transforms cannot be applied (the restore stops before it creates anything).
public enum RestoreTransformError: Error, Sendable, CustomStringConvertible {
    case malformedPatch(patch: Int, reason: String)
    /// An operation of a patch does not apply to an object it matches.
    case patchFailed(object: ObjectReference, patch: Int, operation: Int, description: String, reason: String)
    /// `helmValues` names a release whose records are not among the objects restored.
    case helmReleaseNotRestored(release: String, restored: [String])
    case helmValuesNotAnObject(release: String)
    case helmRecord(HelmReleaseError)

    public var description: String {
        switch self {
        case .malformedPatch(let patch, let reason):
            return "transforms.patches[\(patch)] is malformed: \(reason)"
        case .patchFailed(let object, let patch, let operation, let description, let reason):
            return """
                transforms.patches[\(patch)] does not apply to \(object): operation \(operation) (\(description)) failed: \(reason); \
                nothing was restored
                """
        case .helmReleaseNotRestored(let release, let restored):
            let held = restored.isEmpty ? "none" : restored.joined(separator: ", ")
            return "transforms.helmValues names Helm release \(release), whose records are not restored (releases restored: \(held))"
        case .helmValuesNotAnObject(let release):
            return "transforms.helmValues.\(release) must be an object of values"
        case .helmRecord(let error):
            return "transforms.helmValues cannot rewrite the release record: \(error)"
        }
    }
}
