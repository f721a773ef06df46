import FerryKube

/// Turns a live object into its captured form: drops what the server owns or regenerates
/// (uid, resourceVersion, managedFields, status, timestamps, generation) and identifiers that
/// would be wrong on another cluster (a PV's claimRef uid, a Service's allocated cluster IPs).
public enum CaptureSanitizer {
    public static let strippedMetadata = [
        "uid", "resourceVersion", "managedFields", "selfLink", "creationTimestamp", "generation",
        "deletionTimestamp", "deletionGracePeriodSeconds",
    ]

    /// The captured form; an object passed by its only owner is changed in place.
    public static func sanitize(_ object: consuming KubeObject) -> KubeObject {
        let kind = (object.groupVersion.group, object.kind)
        var json = (consume object).json
        for field in strippedMetadata { json.setValue(nil, at: ["metadata", field]) }
        json["status"] = nil
        switch kind {
        case ("", "PersistentVolume"):
            json.setValue(nil, at: ["spec", "claimRef", "uid"])
            json.setValue(nil, at: ["spec", "claimRef", "resourceVersion"])
        case ("", "Service"):
            if json["spec"]?["clusterIP"]?.stringValue != "None" {
                json.setValue(nil, at: ["spec", "clusterIP"])
                json.setValue(nil, at: ["spec", "clusterIPs"])
            }
        default:
            break
        }
        return KubeObject(json)
    }
}
