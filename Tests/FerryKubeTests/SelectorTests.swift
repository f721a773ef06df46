import FerryKube
import Testing

@Suite struct LabelSelectorTests {
    let labels = ["app": "web", "tier": "frontend", "version": "3"]

    @Test(arguments: [
        ("", true), ("app=web", true), ("app==web", true), ("app!=web", false), ("app!=db", true), ("missing!=x", true),
        ("app in (web, db)", true), ("app in (db)", false), ("app notin (db)", true), ("missing notin (db)", true),
        ("missing in (db)", false), ("app", true), ("!app", false), ("!missing", true), ("version>2", true),
        ("version<3", false), ("app=web,tier=frontend", true), ("app=web,tier=backend", false),
        ("example.com/team", false), ("tier in (frontend,backend),!legacy", true),
    ])
    func matchesLikeTheAPIServer(text: String, expected: Bool) throws {
        let selector = try LabelSelector(parsing: text)
        #expect(selector.matches(labels) == expected, "\(text)")
        // Its canonical text parses back to the same selector.
        #expect(try LabelSelector(parsing: selector.description) == selector)
    }

    @Test(arguments: [
        "app=", "=web", "app in (", "app in (a b)", "-bad=x", "a/b/c=x", "UPPER.example.com/x=y", "app=-web",
        "app notin", "app in ()", "app in ( )", "app=\(String(repeating: "v", count: 64))",
    ])
    func rejectsInvalidSyntax(text: String) {
        if text == "app=" {
            // An empty value is valid: app must be present and empty.
            #expect((try? LabelSelector(parsing: text))?.matches(["app": ""]) == true)
            return
        }
        #expect(throws: SelectorError.self, "\(text)") { try LabelSelector(parsing: text) }
    }

    @Test func buildsFromMatchLabelsAndExpressions() throws {
        let object: JSONValue = [
            "matchLabels": ["app": "web"],
            "matchExpressions": [
                ["key": "tier", "operator": "In", "values": ["frontend", "edge"]],
                ["key": "legacy", "operator": "DoesNotExist"],
                ["key": "version", "operator": "Exists"],
                ["key": "zone", "operator": "NotIn", "values": ["b"]],
            ],
        ]
        let selector = try LabelSelector(object: object)
        #expect(selector.matches(labels))
        #expect(!selector.matches(labels.merging(["legacy": "1"]) { a, _ in a }))
        #expect(!selector.matches(labels.merging(["zone": "b"]) { a, _ in a }))
        #expect(selector.description == "app=web,!legacy,tier in (edge,frontend),version,zone notin (b)")
    }

    @Test func nilSelectsNothingAndEmptySelectsEverything() throws {
        #expect(!(try LabelSelector(object: nil)).matches([:]))
        #expect((try LabelSelector(object: [:])).matches(["any": "thing"]))
    }

    @Test(arguments: [
        #"{"matchExpressions": [{"key": "a", "operator": "In"}]}"#,
        #"{"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}"#,
        #"{"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}"#,
        #"{"matchLabels": {"a": 1}}"#,
        #"{"matchLabels": "a=b"}"#,
    ])
    func rejectsInvalidObjects(text: String) throws {
        let object = try JSONValue(parsing: text)
        #expect(throws: SelectorError.self) { try LabelSelector(object: object) }
    }
}

@Suite struct FieldSelectorTests {
    @Test func parsesEqualityInequalityAndEscapes() throws {
        let selector = try FieldSelector(parsing: #"metadata.name=a\,b,status.phase!=Running,spec.x==y\=z"#)
        #expect(
            selector.terms == [
                .init(field: "metadata.name", value: "a,b"), .init(field: "status.phase", value: "Running", negated: true),
                .init(field: "spec.x", value: "y=z"),
            ])
        #expect(selector.matches(["metadata.name": "a,b", "status.phase": "Pending", "spec.x": "y=z"]))
        #expect(!selector.matches(["metadata.name": "a,b", "status.phase": "Running", "spec.x": "y=z"]))
        #expect(try FieldSelector(parsing: selector.description) == selector)
    }

    @Test func rejectsTermsWithoutOperator() {
        #expect(throws: SelectorError.self) { try FieldSelector(parsing: "metadata.name") }
    }
}
