/// A part of an application a restore can select by name — a Helm release, a KubeVirt
/// VirtualMachine, or a PersistentVolumeClaim — together with everything discovery tied to it
/// (a VirtualMachine's DataVolumes, claims, Secrets, instancetype and preference; a release's
/// objects and records; a claim's PersistentVolume). A snapshot's resource catalog records, for
/// each captured object, the components it belongs to.
///
/// Written as `helm:web`, `vm:db` or `claim:data`, with `@namespace` to name one namespace
/// (`vm:db@vms`), like snapshot names.
public struct ApplicationComponent: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// What kind of component. An open set: a catalog written by a later Ferry may record kinds
    /// this one does not know (they are kept, and can be named, but nothing here creates them).
    public struct Kind: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
        public var rawValue: String

        public init(rawValue: String) { self.rawValue = rawValue }

        /// A Helm release: its records and the objects its manifest and hooks name.
        public static let helmRelease = Kind(rawValue: "HelmRelease")
        /// A KubeVirt VirtualMachine and what it uses.
        public static let virtualMachine = Kind(rawValue: "VirtualMachine")
        /// A PersistentVolumeClaim, its volume (and its data).
        public static let claim = Kind(rawValue: "PersistentVolumeClaim")

        /// The kinds this Ferry records, with their short names.
        public static let known: [(kind: Kind, short: String)] = [(helmRelease, "helm"), (virtualMachine, "vm"), (claim, "claim")]

        public var description: String { rawValue }

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public var kind: Kind
    /// Where the component is. When selecting: nil matches the name in any namespace.
    public var namespace: String?
    public var name: String

    public init(kind: Kind, namespace: String? = nil, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// Reads `helm:NAME`, `vm:NAME` or `claim:NAME`, each optionally followed by `@NAMESPACE`.
    public init(parsing text: String) throws(ApplicationComponentError) {
        guard let colon = text.firstIndex(of: ":") else { throw ApplicationComponentError(text: text) }
        let short = String(text[..<colon])
        guard let kind = Self.Kind.known.first(where: { $0.short == short || $0.kind.rawValue == short })?.kind else {
            throw ApplicationComponentError(text: text)
        }
        let rest = text[text.index(after: colon)...]
        let parts = rest.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, let name = parts.first, !name.isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw ApplicationComponentError(text: text)
        }
        self.init(kind: kind, namespace: parts.count == 2 ? parts[1] : nil, name: name)
    }

    /// Whether this component, as a selection names it, is `recorded` (the same kind and name,
    /// and the same namespace unless the selection names none).
    public func selects(_ recorded: ApplicationComponent) -> Bool {
        kind == recorded.kind && name == recorded.name && (namespace.map { $0 == recorded.namespace } ?? true)
    }

    /// `vm:db@vms`, as the command line takes it.
    public var notation: String {
        let short = Self.Kind.known.first { $0.kind == kind }?.short ?? kind.rawValue
        return "\(short):\(name)" + (namespace.map { "@\($0)" } ?? "")
    }

    /// `VirtualMachine vms/db`.
    public var description: String { "\(kind) " + (namespace.map { "\($0)/" } ?? "") + name }

    public static func < (a: ApplicationComponent, b: ApplicationComponent) -> Bool {
        (a.kind, a.namespace ?? "", a.name) < (b.kind, b.namespace ?? "", b.name)
    }
}

/// A component written in a way `ApplicationComponent(parsing:)` does not read.
public struct ApplicationComponentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String

    public init(text: String) { self.text = text }

    public var description: String {
        "\"\(text)\" is not a component: write helm:RELEASE, vm:NAME or claim:NAME, optionally followed by @NAMESPACE"
    }
}
