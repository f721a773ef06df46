/// Options of a list (or watch) call.
public struct ListOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Page size; nil or 0 asks for everything at once.
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?
    public var resourceVersionMatch: String?

    public init(
        labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil,
        resourceVersion: String? = nil, resourceVersionMatch: String? = nil
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
    }
}

/// One page of a list call.
public struct ObjectList: Sendable {
    public var items: [KubeObject]
    /// The list's resourceVersion: watch from here to see every later change.
    public var resourceVersion: String
    /// Present when more pages follow.
    public var continueToken: String?
    public var remainingItemCount: Int64?

    public init(items: [KubeObject], resourceVersion: String, continueToken: String? = nil, remainingItemCount: Int64? = nil) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
    }

    /// Parses a `*List` document.
    public init(json: JSONValue) throws(KubeError) {
        guard case .object = json else { throw KubeError.invalidResponse("a list answer is not a JSON object") }
        let items = json["items"]
        guard items == nil || items!.isNull || items!.arrayValue != nil else {
            throw KubeError.invalidResponse("the list's items is not an array")
        }
        // Items of built-in lists omit apiVersion/kind; restore them from the list's own.
        let listKind = json["kind"]?.stringValue ?? ""
        let itemKind = listKind.hasSuffix("List") ? String(listKind.dropLast(4)) : ""
        let apiVersion = json["apiVersion"]?.stringValue ?? ""
        self.items = (items?.arrayValue ?? []).map { item in
            var object = item
            if object["kind"] == nil, !itemKind.isEmpty { object["kind"] = .string(itemKind) }
            if object["apiVersion"] == nil, !apiVersion.isEmpty { object["apiVersion"] = .string(apiVersion) }
            return KubeObject(object)
        }
        self.resourceVersion = json["metadata"]?["resourceVersion"]?.stringValue ?? ""
        let token = json["metadata"]?["continue"]?.stringValue
        self.continueToken = (token?.isEmpty ?? true) ? nil : token
        self.remainingItemCount = json["metadata"]?["remainingItemCount"]?.intValue
    }
}

/// The read side of the Kubernetes API that discovery walks need: what resources exist, get one
/// object, list a page. `KubeClient` is the implementation.
public protocol KubeAPI: Sendable {
    /// Every resource the server serves (cached by implementations; `refresh` re-reads).
    func resourceCatalog(refresh: Bool) async throws(KubeError) -> APIResourceCatalog
    func get(_ resource: APIResource, namespace: String?, name: String) async throws(KubeError) -> KubeObject
    func list(_ resource: APIResource, namespace: String?, options: ListOptions) async throws(KubeError) -> ObjectList
}

extension KubeAPI {
    public func resourceCatalog() async throws(KubeError) -> APIResourceCatalog {
        try await resourceCatalog(refresh: false)
    }

    /// Visits every object of a (possibly huge) collection page by page, holding one page at a time.
    /// Returns the resourceVersion of the first page.
    @discardableResult
    public func forEachPage(
        _ resource: APIResource, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        pageSize: Int = 500, _ body: ([KubeObject]) async throws(KubeError) -> Void
    ) async throws(KubeError) -> String {
        var options = ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize)
        var firstVersion: String?
        while true {
            let page = try await list(resource, namespace: namespace, options: options)
            if firstVersion == nil { firstVersion = page.resourceVersion }
            try await body(page.items)
            guard let token = page.continueToken else { return firstVersion ?? "" }
            options.continueToken = token
        }
    }

    /// Every object of a collection (paged underneath). Use `forEachPage` when the collection may
    /// be large and only some objects are kept.
    public func listAll(_ resource: APIResource, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil)
        async throws(KubeError) -> [KubeObject]
    {
        var all: [KubeObject] = []
        try await forEachPage(resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector) { all += $0 }
        return all
    }
}
