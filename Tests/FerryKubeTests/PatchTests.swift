import FerryKube
import Testing

@Suite struct JSONPatchTests {
    /// RFC 7386 section 3 examples.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
    ])
    func mergePatchFollowsRFC7386(target: String, patch: String, expected: String) throws {
        let result = JSONPatch.mergePatch(try JSONValue(parsing: target), with: try JSONValue(parsing: patch))
        #expect(result == (try JSONValue(parsing: expected)))
    }

    @Test func jsonPatchOperations() throws {
        let document = try JSONValue(parsing: #"{"a":{"b":[1,2,3]},"c/d":"x","e~f":"y"}"#)
        let patch = try JSONValue(
            parsing: #"""
                [{"op":"add","path":"/a/b/1","value":9},{"op":"add","path":"/a/b/-","value":4},
                 {"op":"remove","path":"/a/b/0"},{"op":"replace","path":"/c~1d","value":"z"},
                 {"op":"copy","from":"/e~0f","path":"/g"},{"op":"move","from":"/g","path":"/h"},
                 {"op":"test","path":"/h","value":"y"}]
                """#)
        let result = try JSONPatch.apply(patch, to: document)
        #expect(result == (try JSONValue(parsing: #"{"a":{"b":[9,2,3,4]},"c/d":"z","e~f":"y","h":"y"}"#)))
    }

    @Test(arguments: [
        #"[{"op":"remove","path":"/nope"}]"#, #"[{"op":"test","path":"/a","value":2}]"#,
        #"[{"op":"add","path":"/a/5","value":1}]"#, #"[{"op":"frobnicate","path":"/a"}]"#,
        #"[{"op":"move","from":"/a","path":"/a/x"}]"#, #"{"op":"add"}"#, #"[{"op":"add","path":"a","value":1}]"#,
    ])
    func jsonPatchFailuresAreErrors(patch: String) throws {
        let document = try JSONValue(parsing: #"{"a":[1]}"#)
        #expect(throws: JSONPatchError.self) { try JSONPatch.apply(try JSONValue(parsing: patch), to: document) }
    }
}

@Suite struct QuantityTests {
    @Test(arguments: [
        ("10Gi", Int64(10) << 30), ("1Ki", 1024), ("500M", 500_000_000), ("1.5Gi", 1_610_612_736), ("1e3", 1000),
        ("100m", 1), ("7", 7), ("2Ti", Int64(2) << 40), ("3k", 3000), ("0.5", 1),
    ])
    func convertsToBytes(text: String, bytes: Int64) {
        #expect(Quantity(text)?.value == bytes)
    }

    @Test(arguments: ["", "Gi", "ten", "1.2.3Gi", "5X"])
    func rejectsGarbage(text: String) {
        #expect(Quantity(text) == nil)
    }
}

@Suite struct TokenBucketTests {
    @Test func allowsBurstThenPacesAtRate() {
        var bucket = TokenBucket(rate: 10, burst: 3)
        #expect((0..<3).map { _ in bucket.take(at: 0) } == [0, 0, 0])
        // The fourth request at the same instant waits one token's time (0.1 s), the fifth two.
        #expect(abs(bucket.take(at: 0) - 0.1) < 1e-9)
        #expect(abs(bucket.take(at: 0) - 0.2) < 1e-9)
        // After a long pause the bucket is full again, but never above the burst.
        #expect((0..<3).map { _ in bucket.take(at: 100) } == [0, 0, 0])
        #expect(bucket.take(at: 100) > 0)
    }
}
